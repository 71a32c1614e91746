"""Retention of the alert history (ALERT_HISTORY_RETENTION): old transitions, finished
notifications and their delivery attempts go, in bounded batches, each batch its own
transaction (short write locks on SQLite, short row locks on PostgreSQL).

Never deleted, however old:

* the transition an ``AlertState`` points at (``last_transition``): the state machine's
  current claim, and for a monitor that is down, the start of its open outage;
* every notification of such a transition (the outage's alert and its reminders);
* a notification not finished yet (pending or sending), nor its transition, nor its attempts.

A delivery attempt goes with its notification (cascade). Results are not touched here: a
transition keeps only the id of the result that caused it (``results.partitions`` drops
results on their own clock).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from alerts.models import AlertState, DeliveryAttempt, Notification, Transition

logger = logging.getLogger(__name__)

BATCH_SIZE = 1000
FINISHED = [
    Notification.Status.SENT,
    Notification.Status.FAILED,
    Notification.Status.CANCELLED,
]


@dataclass
class AlertHistoryReport:
    dry_run: bool
    cutoff: datetime | None  # None: kept for ever
    transitions: int = 0
    notifications: int = 0  # deleted on their own or with their transition
    attempts: int = 0
    seconds: float = 0.0

    def lines(self) -> list[str]:
        verb = "would delete" if self.dry_run else "deleted"
        keep = "for ever" if self.cutoff is None else f"since {self.cutoff:%Y-%m-%d %H:%M:%S} UTC"
        return [
            f"alert history retention; keeping history {keep}",
            f"{verb} {self.transitions} transitions, {self.notifications} notifications, "
            f"{self.attempts} delivery attempts",
            f"took {self.seconds:.3f}s",
        ]


def _protected_transitions():
    """Ids of the transitions the state machine points at (open outages included)."""
    return AlertState.objects.filter(last_transition__isnull=False).values("last_transition_id")


def expired_notifications(cutoff: datetime):
    """Finished notifications older than the cutoff, not of a protected transition."""
    return Notification.objects.filter(status__in=FINISHED, created_at__lt=cutoff).exclude(
        transition_id__in=_protected_transitions()
    )


def expired_transitions(cutoff: datetime):
    """Transitions older than the cutoff, not pointed at by any AlertState, with no
    notification still to deliver."""
    unfinished = Notification.objects.filter(transition=OuterRef("pk")).exclude(status__in=FINISHED)
    return (
        Transition.objects.filter(happened_at__lt=cutoff)
        .exclude(pk__in=_protected_transitions())
        .exclude(Exists(unfinished))
    )


def _delete_batches(queryset, order: str, batch_size: int, budget: float) -> dict[str, int]:
    """Delete what ``queryset`` selects, ``batch_size`` rows per transaction; returns the rows
    deleted per model label (cascades included)."""
    started = time.monotonic()
    totals: dict[str, int] = {}
    while True:
        with transaction.atomic():
            ids = list(queryset.order_by(order).values_list("pk", flat=True)[:batch_size])
            if not ids:
                return totals
            # Re-check the conditions inside the batch's transaction (the selection is the
            # queryset itself), so a notification that became pending since is kept.
            _, per_model = queryset.filter(pk__in=ids).delete()
        for label, count in per_model.items():
            totals[label] = totals.get(label, 0) + count
        if len(ids) < batch_size or time.monotonic() - started > budget:
            return totals


def alert_history_retention(
    *,
    now: datetime | None = None,
    retention_seconds: float | None = None,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
    budget: float = 300.0,
) -> AlertHistoryReport:
    """Delete the alert history older than ALERT_HISTORY_RETENTION (see the module docstring)."""
    started = time.monotonic()
    seconds = (
        settings.ALERT_HISTORY_RETENTION_SECONDS if retention_seconds is None else retention_seconds
    )
    cutoff = (now or timezone.now()) - timedelta(seconds=seconds) if seconds else None
    report = AlertHistoryReport(dry_run=dry_run, cutoff=cutoff)
    if cutoff is None:
        return report
    notification_label = Notification._meta.label
    attempt_label = DeliveryAttempt._meta.label
    if dry_run:
        notifications = expired_notifications(cutoff)
        transitions = expired_transitions(cutoff)
        report.notifications = (
            notifications | Notification.objects.filter(transition__in=transitions)
        ).count()
        report.transitions = transitions.count()
        report.attempts = DeliveryAttempt.objects.filter(
            Q(notification__in=notifications) | Q(notification__transition__in=transitions)
        ).count()
    else:
        for queryset, order in (
            (expired_notifications(cutoff), "created_at"),
            (expired_transitions(cutoff), "happened_at"),
        ):
            totals = _delete_batches(queryset, order, batch_size, budget)
            report.transitions += totals.get(Transition._meta.label, 0)
            report.notifications += totals.get(notification_label, 0)
            report.attempts += totals.get(attempt_label, 0)
    report.seconds = time.monotonic() - started
    if not dry_run and (report.transitions or report.notifications or report.attempts):
        logger.info(
            "alert history retention: %d transitions, %d notifications, %d attempts deleted",
            report.transitions,
            report.notifications,
            report.attempts,
        )
    return report
