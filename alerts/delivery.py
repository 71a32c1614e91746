"""Delivery: claim a due notification, send it on its channel, record the attempt.

Delivery claims a notification with a conditional update (pending -> sending, with a lease and
a claim token) before it sends, so a task delivered twice, or two workers, send once. Delivery
is at-least-once: a worker that dies after the send and before it records leaves the claim to
expire, and the sweeper (``alerts.sweep``) sends again.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from alerts import selectors
from alerts.channels import DeliveryError, get_transport
from alerts.channels.base import scrub
from alerts.configuration import channel_effective_config
from alerts.messages import message_for
from alerts.models import (
    AlertLevel,
    AlertState,
    Channel,
    DeliveryAttempt,
    MonitorAlertPolicy,
    Notification,
)
from alerts.signals import delivery_attempted
from lib.secrets_at_rest import SecretsKeyError

logger = logging.getLogger(__name__)

RETRY_MAX_DELAY = timedelta(hours=1)


@dataclass(frozen=True)
class DeliveryOutcome:
    """What one delivery attempt did. ``retry_in``: seconds until the next attempt, if any."""

    notification_id: int
    status: str
    succeeded: bool
    error: str = ""
    retry_in: float | None = None


def delivery_lease(timeout: float) -> timedelta:
    """How long a claim holds: a send's worst case (several network steps) with room to spare."""
    return timedelta(seconds=max(60.0, timeout * 6))


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff: base, 2x base, 4x base, … capped at an hour."""
    base = settings.ALERT_RETRY_BASE_SECONDS
    return min(timedelta(seconds=base * 2 ** max(attempts - 1, 0)), RETRY_MAX_DELAY)


def notification_deliver(
    notification_id: int, *, now: datetime | None = None
) -> DeliveryOutcome | None:
    """Claim a due notification, send it, and record the attempt.

    Returns None when there was nothing to do: already sent, claimed by another worker (its
    lease not expired), not due yet, or gone. A notification whose monitor was disabled or
    muted, whose channel was disabled, or a reminder for an outage that ended, is cancelled.
    """
    now = now or timezone.now()
    token = uuid.uuid4()
    claimed = Notification.objects.filter(
        Q(status=Notification.Status.PENDING, next_attempt_at__lte=now)
        | Q(status=Notification.Status.SENDING, lease_until__lt=now),
        pk=notification_id,
    ).update(
        status=Notification.Status.SENDING,
        claim_token=token,
        lease_until=now + delivery_lease(settings.ALERT_DELIVERY_TIMEOUT),
        attempts=F("attempts") + 1,
    )
    if not claimed:
        return None
    notification = Notification.objects.select_related("channel", "transition__monitor").get(
        pk=notification_id
    )
    reason = _cancel_reason(notification)
    if reason:
        Notification.objects.filter(pk=notification_id, claim_token=token).update(
            status=Notification.Status.CANCELLED,
            attempts=F("attempts") - 1,
            lease_until=None,
            next_attempt_at=None,
            last_error=reason,
        )
        logger.info("notification %s cancelled: %s", notification_id, reason)
        return DeliveryOutcome(notification_id, Notification.Status.CANCELLED, False, reason)
    return _send_and_record(notification, token=token, now=now, retries=True)


def _cancel_reason(notification: Notification) -> str:
    channel = notification.channel
    if not channel.enabled:
        return "channel disabled"
    if channel.builtin and not selectors.settings_channel_configured():
        return "ALERT_SMTP_FROM / ALERT_SMTP_TO not configured"
    transition = notification.transition
    if transition is None:
        return ""
    monitor = transition.monitor
    if not monitor.enabled:
        return "monitor disabled"
    if MonitorAlertPolicy.objects.filter(monitor=monitor, muted=True).exists():
        return "monitor muted"
    if (
        notification.event == Notification.Event.REMINDER
        and not AlertState.objects.filter(
            monitor=monitor, state=AlertLevel.DOWN, last_transition=transition
        ).exists()
    ):
        return "the outage has ended"
    return ""


def _send_and_record(
    notification: Notification, *, token: uuid.UUID, now: datetime, retries: bool
) -> DeliveryOutcome:
    """Send a claimed notification and record the outcome (the attempt, the notification's
    new status, the channel's health) in one transaction."""
    channel = notification.channel
    timeout = settings.ALERT_DELIVERY_TIMEOUT
    transport = get_transport(channel.kind)
    clock = time.monotonic()
    error = ""
    config: dict[str, object] = {}
    try:
        config = channel_effective_config(channel)
        transport(config).send(message_for(notification, now=now), timeout=timeout)
    except SecretsKeyError as failure:  # a failed attempt saying so, as any other
        error = f"channel settings: {failure}"
    except DeliveryError as failure:
        error = str(failure) or "delivery failed"
    except Exception as failure:  # a library bug must not lose the notification
        error = f"unexpected error: {failure.__class__.__name__}"
        logger.error(
            "notification %s to channel %s raised %s",
            notification.pk,
            channel.pk,
            failure.__class__.__name__,
        )
    error = scrub(error, transport.secret_values(config))[:1000]
    finished = now + timedelta(seconds=time.monotonic() - clock)
    attempts = notification.attempts
    retry_in: float | None = None
    if not error:
        status = Notification.Status.SENT
        updates: dict[str, object] = {
            "sent_at": finished,
            "next_attempt_at": None,
            "last_error": "",
        }
    elif retries and attempts < settings.ALERT_DELIVERY_ATTEMPTS:
        status = Notification.Status.PENDING
        delay = retry_delay(attempts)
        retry_in = delay.total_seconds()
        updates = {"next_attempt_at": finished + delay, "last_error": error}
    else:
        status = Notification.Status.FAILED
        updates = {"next_attempt_at": None, "last_error": error}
    health: dict[str, object] = {"last_attempt_at": finished}
    if error:
        health.update(last_failure_at=finished, failures_in_row=F("failures_in_row") + 1)
        health["last_error"] = error
    else:
        health.update(last_success_at=finished, failures_in_row=0, last_error="")
    try:
        with transaction.atomic():
            recorded = Notification.objects.filter(pk=notification.pk, claim_token=token).update(
                status=status, lease_until=None, **updates
            )
            DeliveryAttempt.objects.create(
                notification=notification,
                channel=channel,
                number=attempts,
                started_at=now,
                finished_at=finished,
                succeeded=not error,
                error=error,
            )
            Channel.objects.filter(pk=channel.pk).update(**health)
            delivery_attempted.send(Channel, kind=channel.kind, succeeded=not error)
    except IntegrityError:  # the channel or the monitor was deleted while we were sending
        logger.info("notification %s was deleted while it was being sent", notification.pk)
        return DeliveryOutcome(notification.pk, status, not error, error)
    if not recorded:  # our lease expired and another worker took over; it owns the row now
        logger.warning(
            "notification %s: claim lost before the outcome was recorded", notification.pk
        )
    if error:
        logger.warning(
            "notification %s (%s) to channel %s failed, attempt %s: %s",
            notification.pk,
            notification.event,
            channel.pk,
            attempts,
            error,
        )
    else:
        logger.info(
            "notification %s (%s) sent to channel %s",
            notification.pk,
            notification.event,
            channel.pk,
        )
    return DeliveryOutcome(notification.pk, status, not error, error, retry_in)


def channel_send_test(channel: Channel, *, now: datetime | None = None) -> DeliveryOutcome:
    """Send a test notification to ``channel`` now (synchronously, no retries) and record it
    like any delivery: a ``Notification`` (event ``test``), its attempt, the channel's health.
    Works on a disabled channel too, so it can be tried before it is turned on."""
    now = now or timezone.now()
    token = uuid.uuid4()
    notification = Notification.objects.create(
        channel=channel,
        event=Notification.Event.TEST,
        status=Notification.Status.SENDING,
        attempts=1,
        claim_token=token,
        lease_until=now + delivery_lease(settings.ALERT_DELIVERY_TIMEOUT),
        created_at=now,
    )
    return _send_and_record(notification, token=token, now=now, retries=False)
