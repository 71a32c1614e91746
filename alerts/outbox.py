"""The outbox: which channels a monitor notifies, and queueing ``Notification`` rows for
delivery.

Transitions (``alerts.transitions``) and reminders (``alerts.sweep``) write pending rows in
their transaction and queue them once it commits; the row is the truth, the queued task only
a wake-up (the sweeper queues again what was lost). ``enqueue_deliveries`` is the one place
that sends the delivery task (``alerts.tasks.deliver_notification``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from alerts import selectors
from alerts.configuration import builtin_channel_ensure
from alerts.models import Channel, MonitorAlertPolicy, Notification
from monitors.models import Monitor

logger = logging.getLogger(__name__)


def channel_ids_by_monitor(monitor_ids: set[int], *, custom: set[int]) -> dict[int, list[int]]:
    """The enabled channels each monitor notifies: the defaults, or its own selection (the
    monitors in ``custom``), and every channel tagged with any of the monitor's tags, each
    channel once. Tags are read now (a monitor tagged since is routed).

    Queries: one for the defaults and the tagged channels together (when any monitor uses the
    defaults; else one for the tagged channels), one for the own selections (when any), and
    one for the monitors' tags only when a channel has tags. The callers leave muted monitors
    out: a muted policy sends nothing, whatever the tags."""
    by_monitor: dict[int, list[int]] = {}
    if not monitor_ids:
        return by_monitor
    uses_defaults = monitor_ids - custom
    if uses_defaults and selectors.settings_channel_configured():
        builtin_channel_ensure()
    routing = selectors.routing_channels(defaults=bool(uses_defaults))
    if uses_defaults:
        defaults = [pk for pk, is_default, _ in routing if is_default]
        by_monitor.update({monitor_id: list(defaults) for monitor_id in uses_defaults})
    own = monitor_ids & custom
    if own:
        through = MonitorAlertPolicy.channels.through
        rows = through.objects.filter(monitoralertpolicy_id__in=own, channel__enabled=True)
        if not selectors.settings_channel_configured():
            rows = rows.exclude(channel__builtin=Channel.BUILTIN_SETTINGS_EMAIL)
        for monitor_id, channel_id in rows.values_list("monitoralertpolicy_id", "channel_id"):
            by_monitor.setdefault(monitor_id, []).append(channel_id)
    tagged = [(pk, set(tags)) for pk, _, tags in routing if tags]
    if tagged:
        monitors = Monitor.objects.filter(pk__in=monitor_ids).exclude(tags=[])
        for monitor_id, monitor_tags in monitors.values_list("pk", "tags"):
            chosen = by_monitor.setdefault(monitor_id, [])
            for channel_id, channel_tags in tagged:
                if channel_id not in chosen and channel_tags.intersection(monitor_tags or ()):
                    chosen.append(channel_id)
    return by_monitor


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


def enqueue_on_commit(notification_ids: list[int]) -> None:
    """Queue these notifications once the current transaction commits (nothing on rollback)."""
    if notification_ids:
        transaction.on_commit(lambda: enqueue_deliveries(notification_ids))


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
        enqueue_on_commit(ids)
    return count
