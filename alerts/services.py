"""Alerting writes: the state machine, the outbox, delivery, reminders, channels and policies.

The state machine (``next_alert_state``), per monitor, over the runs ``results_record`` stores:

* a non-OK run (Error or Failed) makes the monitor DOWN when its failure streak reaches the
  fail threshold (``MonitorAlertPolicy.fail_threshold``, default ``ALERT_FAIL_COUNT``);
  further failures while DOWN change nothing (one alert per outage);
* while DOWN, OK runs count up; the recover threshold of them in a row (default
  ``ALERT_RECOVER_COUNT``) makes it UP again; a failure in between starts that count over;
* a new monitor is UNKNOWN; its first OK run makes it UP without a notification; reaching the
  fail threshold from UNKNOWN makes it DOWN with a notification.
* an update of a monitor resets its failure streak (``monitor_save``) but leaves its alert state
  as it is: an open outage stays open (failures after the update send nothing new) and the
  first OK runs send the recovery. A disabled monitor has no runs, so no transitions; its
  pending notifications and reminders are cancelled.

Guarantees: a transition is claimed with a conditional update on ``AlertState.version`` (and a
unique (monitor, state_version) constraint), inside ``results_record``'s transaction, together
with its outbox rows (one ``Notification`` per channel). Delivery claims a notification with a
conditional update (pending -> sending, with a lease and a claim token) before it sends, so a
task delivered twice, or two workers, send once. Delivery is at-least-once: a worker that dies
after the send and before it records leaves the claim to expire, and the sweeper sends again.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from alerts import selectors
from alerts.channels import DeliveryError, get_transport
from alerts.channels.base import scrub
from alerts.messages import message_for
from alerts.models import (
    AlertLevel,
    AlertState,
    Channel,
    DeliveryAttempt,
    MonitorAlertPolicy,
    Notification,
    Transition,
)
from metrics.services import notifications_count
from monitors.models import Monitor
from results.models import Result, Status

logger = logging.getLogger(__name__)

RETRY_MAX_DELAY = timedelta(hours=1)
# The sweeper leaves fresh work to the task queued on commit (or by a retry's countdown).
SWEEP_GRACE = timedelta(seconds=10)
SWEEP_LIMIT = 1000
UNSENT = (Notification.Status.PENDING, Notification.Status.SENDING)


# --- The state machine -------------------------------------------------------------------------


def next_alert_state(
    state: str,
    ok_streak: int,
    *,
    ok: bool,
    failures: int,
    fail_threshold: int,
    recover_threshold: int,
) -> tuple[str, int]:
    """The alert state and OK streak after one run (see the module docstring); pure."""
    if not ok:
        if state != AlertLevel.DOWN and failures >= fail_threshold:
            return AlertLevel.DOWN, 0
        return state, 0
    if state == AlertLevel.DOWN:
        if ok_streak + 1 >= recover_threshold:
            return AlertLevel.UP, 0
        return AlertLevel.DOWN, ok_streak + 1
    return AlertLevel.UP, 0


def event_for(from_state: str, to_state: str) -> str | None:
    """The notification a transition sends, if any (UNKNOWN -> UP sends nothing)."""
    if to_state == AlertLevel.DOWN:
        return Notification.Event.DOWN
    if to_state == AlertLevel.UP and from_state == AlertLevel.DOWN:
        return Notification.Event.UP
    return None


@dataclass(frozen=True)
class _Standing:
    """A monitor's alert state and policy, as loaded for one batch."""

    exists: bool
    state: str
    ok_streak: int
    version: int
    fail_threshold: int
    recover_threshold: int
    muted: bool
    use_default_channels: bool


def transitions_record(
    *, results: Sequence[Result], failure_streaks: Mapping[int, int], now: datetime
) -> list[Transition]:
    """Apply a batch's stored results to the alert state machine; return the transitions.

    Call inside the transaction that stored ``results`` (``results_record`` does, while it
    holds the monitors' rows locked). ``failure_streaks`` maps each monitor to its non-OK
    streak after the batch (``MonitorState.consecutive_failures``); a batch holds at most one
    result per monitor. Each transition is claimed with a conditional update and written with
    one pending ``Notification`` per channel; their delivery is queued once the transaction
    commits (the sweeper queues them if the broker was down).

    Cost: one query for the whole batch when nothing changes; writes only for changes.
    """
    latest = {result.monitor_id: result for result in results}
    if not latest:
        return []
    standings = _load_standings(latest)
    changes: list[tuple[Result, _Standing, str, int]] = []
    for monitor_id, result in latest.items():
        standing = standings.get(monitor_id)
        if standing is None:  # deleted meanwhile
            continue
        new_state, new_ok_streak = next_alert_state(
            standing.state,
            standing.ok_streak,
            ok=result.status == Status.OK,
            failures=failure_streaks.get(monitor_id, 0),
            fail_threshold=standing.fail_threshold,
            recover_threshold=standing.recover_threshold,
        )
        if (new_state, new_ok_streak) != (standing.state, standing.ok_streak):
            changes.append((result, standing, new_state, new_ok_streak))
    if not changes:
        return []

    missing = [result.monitor_id for result, standing, _, _ in changes if not standing.exists]
    if missing:
        AlertState.objects.bulk_create(
            [AlertState(monitor_id=monitor_id) for monitor_id in missing], ignore_conflicts=True
        )
    transitions: list[Transition] = []
    for result, standing, new_state, new_ok_streak in changes:
        moved = new_state != standing.state
        fields: dict[str, object] = {
            "state": new_state,
            "ok_streak": new_ok_streak,
            "version": standing.version + 1,
        }
        if moved:
            fields.update(changed_at=now, reminders_sent=0, reminded_at=None)
        claimed = AlertState.objects.filter(
            monitor_id=result.monitor_id, state=standing.state, version=standing.version
        ).update(**fields)
        if not claimed or not moved:
            continue
        transitions.append(
            Transition(
                monitor_id=result.monitor_id,
                from_state=standing.state,
                to_state=new_state,
                reason=result.message if new_state == AlertLevel.DOWN else "",
                failures=failure_streaks.get(result.monitor_id, 0),
                value=result.value,
                result_id=result.pk,
                monitor_name=result.monitor_name,
                monitor_target=result.monitor_target,
                happened_at=result.date,
                created_at=now,
                state_version=standing.version + 1,
            )
        )
    if not transitions:
        return []
    Transition.objects.bulk_create(transitions)
    AlertState.objects.bulk_update(
        [AlertState(monitor_id=item.monitor_id, last_transition=item) for item in transitions],
        ["last_transition"],
    )
    notifying = [
        item
        for item in transitions
        if event_for(item.from_state, item.to_state) and not standings[item.monitor_id].muted
    ]
    if notifying:
        channels = _channel_ids_by_monitor(
            {item.monitor_id for item in notifying},
            custom={m for m, standing in standings.items() if not standing.use_default_channels},
        )
        created = Notification.objects.bulk_create(
            [
                Notification(
                    transition=item,
                    channel_id=channel_id,
                    event=event_for(item.from_state, item.to_state),
                    next_attempt_at=now,
                    created_at=now,
                )
                for item in notifying
                for channel_id in channels.get(item.monitor_id, [])
            ]
        )
        _enqueue_on_commit([notification.pk for notification in created])
    for item in transitions:
        logger.info(
            "monitor %s went %s -> %s (%s)",
            item.monitor_id,
            item.from_state,
            item.to_state,
            item.reason or "ok",
        )
    return transitions


def _load_standings(latest: Mapping[int, Result]) -> dict[int, _Standing]:
    """Alert state and policy of the batch's monitors, in one query."""
    rows = Monitor.objects.filter(pk__in=list(latest)).values_list(
        "pk",
        "alert_state__state",
        "alert_state__ok_streak",
        "alert_state__version",
        "alert_policy__fail_threshold",
        "alert_policy__recover_threshold",
        "alert_policy__muted",
        "alert_policy__use_default_channels",
    )
    standings = {}
    for pk, state, ok_streak, version, fail, recover, muted, use_defaults in rows:
        standings[pk] = _Standing(
            exists=state is not None,
            state=state or AlertLevel.UNKNOWN,
            ok_streak=ok_streak or 0,
            version=version or 0,
            fail_threshold=fail or settings.ALERT_FAIL_COUNT,
            recover_threshold=recover or settings.ALERT_RECOVER_COUNT,
            muted=bool(muted),
            use_default_channels=use_defaults is not False,
        )
    return standings


def _channel_ids_by_monitor(monitor_ids: set[int], *, custom: set[int]) -> dict[int, list[int]]:
    """The enabled channels each monitor notifies: the defaults, or its own selection."""
    by_monitor: dict[int, list[int]] = {}
    uses_defaults = monitor_ids - custom
    if uses_defaults:
        if selectors.settings_channel_configured():
            builtin_channel_ensure()
        defaults = selectors.default_channel_ids()
        by_monitor.update(dict.fromkeys(uses_defaults, defaults))
    own = monitor_ids & custom
    if own:
        through = MonitorAlertPolicy.channels.through
        rows = through.objects.filter(monitoralertpolicy_id__in=own, channel__enabled=True)
        if not selectors.settings_channel_configured():
            rows = rows.exclude(channel__builtin=Channel.BUILTIN_SETTINGS_EMAIL)
        for monitor_id, channel_id in rows.values_list("monitoralertpolicy_id", "channel_id"):
            by_monitor.setdefault(monitor_id, []).append(channel_id)
    return by_monitor


# --- Queueing ----------------------------------------------------------------------------------


def enqueue_deliveries(notification_ids: Iterable[int], *, countdown: float | None = None) -> None:
    """Queue a delivery task per notification on the ``alerts`` queue (best effort: a broker
    that is down only delays them until the sweeper's next pass)."""
    from alerts.tasks import deliver_notification

    for notification_id in notification_ids:
        try:
            deliver_notification.apply_async((notification_id,), countdown=countdown)
        except Exception as error:  # the outbox row is the truth; the sweeper re-queues it
            logger.warning(
                "could not queue notification %s (%s); the sweeper will",
                notification_id,
                error.__class__.__name__,
            )


def _enqueue_on_commit(notification_ids: list[int]) -> None:
    if notification_ids:
        transaction.on_commit(lambda: enqueue_deliveries(notification_ids))


# --- Delivery ----------------------------------------------------------------------------------


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
    config = channel_effective_config(channel)
    transport = get_transport(channel.kind)
    clock = time.monotonic()
    error = ""
    try:
        transport(config).send(message_for(notification, now=now), timeout=timeout)
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
            notifications_count(channel=channel.kind, sent=int(not error), failed=int(bool(error)))
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


def channel_effective_config(channel: Channel) -> dict[str, object]:
    """The channel's full config, secrets included (never show it): the ``ALERT_SMTP_*``
    settings for the built-in channel, the stored config otherwise."""
    if channel.builtin == Channel.BUILTIN_SETTINGS_EMAIL:
        return selectors.settings_email_config()
    return dict(channel.config or {})


def builtin_channel_ensure() -> Channel:
    """The built-in email channel (settings from ``ALERT_SMTP_*``), created if missing.

    A data migration creates it; this re-creates it should the row ever be gone, so the
    environment variables alone always work, with no database setup.
    """
    channel, _ = Channel.objects.get_or_create(
        builtin=Channel.BUILTIN_SETTINGS_EMAIL,
        defaults={
            "name": "Email (ALERT_SMTP_* settings)",
            "kind": Channel.Kind.EMAIL,
            "enabled": True,
            "is_default": True,
        },
    )
    return channel


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


def notifications_retry(notification_ids: Iterable[int], *, now: datetime | None = None) -> int:
    """Put failed, cancelled or waiting notifications back to be sent now, with a fresh count
    of attempts; returns how many. Sent ones (and test ones) are left alone."""
    now = now or timezone.now()
    ids = list(
        Notification.objects.filter(pk__in=list(notification_ids), transition__isnull=False)
        .exclude(status__in=[Notification.Status.SENT, Notification.Status.SENDING])
        .values_list("pk", flat=True)
    )
    with transaction.atomic():
        count = Notification.objects.filter(pk__in=ids).update(
            status=Notification.Status.PENDING, attempts=0, next_attempt_at=now, last_error=""
        )
        _enqueue_on_commit(ids)
    return count


# --- The sweeper: lost messages, retries, reminders --------------------------------------------


@dataclass(frozen=True)
class SweepReport:
    reminders: list[int]
    requeued: list[int]


def alerts_sweep(*, now: datetime | None = None) -> SweepReport:
    """Create the reminders that are due, and queue every notification that is due and has
    no task in flight (its task lost, the broker down at commit, a retry whose wake-up was
    lost, a worker that died holding a claim). Safe to run often and in parallel."""
    now = now or timezone.now()
    with transaction.atomic():
        reminders = _reminders_create(now)
        _enqueue_on_commit(reminders)
    requeued = selectors.notifications_due(
        due_before=now - SWEEP_GRACE, lease_expired_before=now, limit=SWEEP_LIMIT
    )
    enqueue_deliveries(requeued)
    return SweepReport(reminders=reminders, requeued=requeued)


def _reminders_create(now: datetime) -> list[int]:
    """One reminder per channel for each DOWN monitor whose reminder interval has passed."""
    default_minutes = settings.ALERT_REMINDER_MINUTES
    candidates = AlertState.objects.filter(
        state=AlertLevel.DOWN, monitor__enabled=True, last_transition__isnull=False
    ).select_related("monitor__alert_policy")
    # Cheap when reminders are off: only the monitors that turned them on themselves.
    if default_minutes:
        candidates = candidates.exclude(monitor__alert_policy__reminder_minutes=0).exclude(
            monitor__alert_policy__muted=True
        )
    else:
        candidates = candidates.filter(
            monitor__alert_policy__reminder_minutes__gt=0, monitor__alert_policy__muted=False
        )
    due: list[tuple[AlertState, bool]] = []  # claimed standings, whether on their own channels
    for standing in candidates:
        try:
            policy: MonitorAlertPolicy | None = standing.monitor.alert_policy
        except ObjectDoesNotExist:
            policy = None
        minutes = default_minutes
        if policy is not None and policy.reminder_minutes is not None:
            minutes = policy.reminder_minutes
        if not minutes or (policy is not None and policy.muted):
            continue
        since = standing.reminded_at or standing.changed_at
        if since is None or since + timedelta(minutes=minutes) > now:
            continue
        claimed = AlertState.objects.filter(
            pk=standing.pk,
            state=AlertLevel.DOWN,
            version=standing.version,
            reminders_sent=standing.reminders_sent,
        ).update(reminders_sent=F("reminders_sent") + 1, reminded_at=now)
        if claimed:
            due.append((standing, policy is not None and not policy.use_default_channels))
    if not due:
        return []
    # Channels and busy channels for every claimed outage at once (not per monitor).
    channels = _channel_ids_by_monitor(
        {standing.monitor_id for standing, _ in due},
        custom={standing.monitor_id for standing, own in due if own},
    )
    # A channel still trying to deliver this outage's earlier message gets no pile-up.
    busy = set(
        Notification.objects.filter(
            transition_id__in=[standing.last_transition_id for standing, _ in due],
            status__in=UNSENT,
        ).values_list("transition_id", "channel_id")
    )
    rows = Notification.objects.bulk_create(
        [
            Notification(
                transition_id=standing.last_transition_id,
                channel_id=channel_id,
                event=Notification.Event.REMINDER,
                sequence=standing.reminders_sent + 1,
                next_attempt_at=now,
                created_at=now,
            )
            for standing, _ in due
            for channel_id in channels.get(standing.monitor_id, [])
            if (standing.last_transition_id, channel_id) not in busy
        ]
    )
    return [row.pk for row in rows]


# --- Channels and policies -----------------------------------------------------------------


def channel_save(channel: Channel, *, config: Mapping[str, object] | None = None) -> Channel:
    """Validate and store a new or changed channel (every entry point goes through here).

    ``config`` is validated by the kind's transport (errors keyed by its field names, see
    ``alerts.channels``). A secret left out, blank or sent back masked keeps its stored value
    when the kind is unchanged. ``config=None`` keeps the stored config (re-validated). The
    built-in channel's kind and config come from the environment: only its name, enabled
    and default flags change. Raises ``ValidationError`` and stores nothing.
    """
    stored = (
        Channel.objects.filter(pk=channel.pk).values("kind", "config", "builtin").first()
        if channel.pk
        else None
    )
    if stored and stored["builtin"]:
        if channel.kind != stored["kind"] or config is not None:
            raise ValidationError(
                "This channel is configured by the ALERT_SMTP_* environment variables."
            )
        channel.builtin = stored["builtin"]
        channel.config = {}
    else:
        channel.builtin = None
        same_kind = stored is not None and stored["kind"] == channel.kind
        current = stored["config"] if same_kind else None
        raw = config if config is not None else (current or {})
        try:
            transport = get_transport(channel.kind)
        except KeyError:
            raise ValidationError({"kind": f"unknown channel kind {channel.kind!r}"}) from None
        channel.config = transport.clean_config(raw, current=current)
    channel.full_clean()
    channel.save()
    return channel


def channel_create(
    *,
    name: str,
    kind: str,
    config: Mapping[str, object],
    enabled: bool = True,
    is_default: bool = True,
) -> Channel:
    """Create a channel (see ``channel_save``)."""
    channel = Channel(name=name, kind=kind, enabled=enabled, is_default=is_default)
    return channel_save(channel, config=config)


def channel_update(
    channel: Channel,
    *,
    name: str | None = None,
    kind: str | None = None,
    enabled: bool | None = None,
    is_default: bool | None = None,
    config: Mapping[str, object] | None = None,
) -> Channel:
    """Change the given fields of a channel (None: unchanged; see ``channel_save``)."""
    for field, value in (
        ("name", name),
        ("kind", kind),
        ("enabled", enabled),
        ("is_default", is_default),
    ):
        if value is not None:
            setattr(channel, field, value)
    return channel_save(channel, config=config)


def channel_delete(channel: Channel) -> None:
    """Delete a channel with its notifications; the built-in channel cannot be deleted
    (disable it, or leave ``ALERT_SMTP_*`` unset)."""
    if channel.builtin:
        raise ValidationError("The built-in channel cannot be deleted; disable it instead.")
    channel.delete()


def alert_policy_set(
    monitor: Monitor,
    *,
    fail_threshold: int | None = None,
    recover_threshold: int | None = None,
    reminder_minutes: int | None = None,
    muted: bool = False,
    use_default_channels: bool = True,
    channels: Iterable[Channel] = (),
) -> MonitorAlertPolicy:
    """Set how ``monitor`` alerts (None: the default from the environment). Takes effect from
    the next run; an open outage stays open."""
    policy = MonitorAlertPolicy.objects.filter(monitor=monitor).first() or MonitorAlertPolicy(
        monitor=monitor
    )
    policy.fail_threshold = fail_threshold
    policy.recover_threshold = recover_threshold
    policy.reminder_minutes = reminder_minutes
    policy.muted = muted
    policy.use_default_channels = use_default_channels
    policy.full_clean(exclude=["monitor"])
    with transaction.atomic():
        policy.save()
        policy.channels.set(list(channels))
    return policy
