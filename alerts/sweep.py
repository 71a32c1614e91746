"""The sweeper: due reminders, held down alerts whose maintenance window ended
(``alerts.maintenance``), due escalations (``alerts.acknowledge``), and notifications whose
delivery task was lost.

Beat runs ``alerts.tasks.sweep_alerts`` every ``ALERT_SWEEP_INTERVAL``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from alerts import selectors
from alerts.acknowledge import escalations_create
from alerts.maintenance import held_release, monitors_in_maintenance
from alerts.models import AlertLevel, AlertState, MonitorAlertPolicy, Notification
from alerts.outbox import channel_ids_by_monitor, enqueue_deliveries, enqueue_on_commit

# The sweeper leaves fresh work to the task queued on commit (or by a retry's countdown).
SWEEP_GRACE = timedelta(seconds=10)
SWEEP_LIMIT = 1000
UNSENT = (Notification.Status.PENDING, Notification.Status.SENDING)


@dataclass(frozen=True)
class SweepReport:
    reminders: list[int]
    requeued: list[int]
    released: list[int] = field(default_factory=list)  # held DOWN alerts sent
    escalated: list[int] = field(default_factory=list)  # escalation notifications


def alerts_sweep(*, now: datetime | None = None) -> SweepReport:
    """Create the reminders that are due, and queue every notification that is due and has
    no task in flight (its task lost, the broker down at commit, a retry whose wake-up was
    lost, a worker that died holding a claim). Safe to run often and in parallel."""
    now = now or timezone.now()
    with transaction.atomic():
        released = held_release(now)
        escalated = escalations_create(now)
        reminders = _reminders_create(now)
        enqueue_on_commit(reminders)
    requeued = selectors.notifications_due(
        due_before=now - SWEEP_GRACE, lease_expired_before=now, limit=SWEEP_LIMIT
    )
    enqueue_deliveries(requeued)
    return SweepReport(
        reminders=reminders, requeued=requeued, released=released, escalated=escalated
    )


def _reminders_create(now: datetime) -> list[int]:
    """One reminder per channel for each DOWN monitor whose reminder interval has passed
    (none while its alert is held, a maintenance window covers it, or it is acknowledged)."""
    default_minutes = settings.ALERT_REMINDER_MINUTES
    candidates = AlertState.objects.filter(
        state=AlertLevel.DOWN,
        monitor__enabled=True,
        last_transition__isnull=False,
        held_at__isnull=True,
        acknowledged_at__isnull=True,
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
    candidates = list(candidates)
    paused = monitors_in_maintenance({standing.monitor_id for standing in candidates}, now)
    due: list[tuple[AlertState, bool]] = []  # claimed standings, whether on their own channels
    for standing in candidates:
        if standing.monitor_id in paused:
            continue
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
    channels = channel_ids_by_monitor(
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
