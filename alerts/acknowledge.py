"""Acknowledging a down alert, and escalating one nobody acknowledged (docs/alerting.md,
Acknowledge and Escalation).

An acknowledgement (who, when, why) is kept on the monitor's ``AlertState``: reminders and
escalation stop while it holds, and any change of state clears it (``alerts.transitions``:
the recovery, or a new outage). Escalation: a policy's ``escalate_after_minutes`` after a
monitor went down, still down and unacknowledged, the sweeper sends the outage's down alert
to the policy's ``escalation_channels`` (those that did not get it already), once per outage.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction

from alerts.maintenance import monitors_in_maintenance
from alerts.models import AlertLevel, AlertState, MonitorAlertPolicy, Notification
from alerts.outbox import enqueue_on_commit

MAX_REASON = 1000


class NotDown(Exception):
    """Only a monitor that is down can be acknowledged."""


def alert_acknowledge(monitor_id: int, *, user, reason: str, now: datetime) -> AlertState:
    """Acknowledge the monitor's current outage (again: the newest reason wins). Raises
    ``NotDown`` when it is not down."""
    reason = (reason or "").strip()[:MAX_REASON]
    with transaction.atomic():
        standing = (
            AlertState.objects.select_for_update()
            .filter(monitor_id=monitor_id, state=AlertLevel.DOWN)
            .first()
        )
        if standing is None:
            raise NotDown("the monitor is not down: there is nothing to acknowledge")
        standing.acknowledged_at = now
        standing.acknowledged_by = user if user is not None and user.is_authenticated else None
        standing.acknowledged_reason = reason
        standing.save(update_fields=["acknowledged_at", "acknowledged_by", "acknowledged_reason"])
    return standing


def alerts_down() -> list[AlertState]:
    """The monitors that are down now, acknowledged or not, longest down first."""
    return list(
        AlertState.objects.filter(state=AlertLevel.DOWN)
        .select_related("monitor", "acknowledged_by", "last_transition")
        .order_by("changed_at", "monitor_id")
    )


def escalations_create(now: datetime) -> list[int]:
    """Escalate every outage that is due (see the module docstring); returns the notification
    ids written (queued on commit). Call in a transaction; safe to run in parallel (each
    outage is claimed with a conditional update)."""
    candidates = list(
        AlertState.objects.filter(
            state=AlertLevel.DOWN,
            monitor__enabled=True,
            monitor__alert_policy__escalate_after_minutes__isnull=False,
            monitor__alert_policy__muted=False,
            last_transition__isnull=False,
            acknowledged_at__isnull=True,
            escalated_at__isnull=True,
            held_at__isnull=True,
        ).select_related("monitor__alert_policy")
    )
    paused = monitors_in_maintenance({standing.monitor_id for standing in candidates}, now)
    due: list[AlertState] = []
    for standing in candidates:
        policy: MonitorAlertPolicy = standing.monitor.alert_policy
        since = standing.changed_at
        if standing.monitor_id in paused or since is None:
            continue
        if since + timedelta(minutes=policy.escalate_after_minutes) > now:
            continue
        claimed = AlertState.objects.filter(
            pk=standing.pk, version=standing.version, escalated_at__isnull=True
        ).update(escalated_at=now)
        if claimed:
            due.append(standing)
    if not due:
        return []
    through = MonitorAlertPolicy.escalation_channels.through
    channels: dict[int, list[int]] = {}
    for monitor_id, channel_id in through.objects.filter(
        monitoralertpolicy_id__in=[standing.monitor_id for standing in due],
        channel__enabled=True,
    ).values_list("monitoralertpolicy_id", "channel_id"):
        channels.setdefault(monitor_id, []).append(channel_id)
    # A channel that already has this outage's down alert is not sent it twice.
    told = set(
        Notification.objects.filter(
            transition_id__in=[standing.last_transition_id for standing in due], sequence=0
        ).values_list("transition_id", "channel_id")
    )
    rows = Notification.objects.bulk_create(
        [
            Notification(
                transition_id=standing.last_transition_id,
                channel_id=channel_id,
                event=Notification.Event.DOWN,
                next_attempt_at=now,
                created_at=now,
            )
            for standing in due
            for channel_id in channels.get(standing.monitor_id, [])
            if (standing.last_transition_id, channel_id) not in told
        ]
    )
    ids = [row.pk for row in rows]
    enqueue_on_commit(ids)
    return ids
