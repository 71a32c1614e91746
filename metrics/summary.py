"""The loop's periodic one-line summary (``metrics.tasks.log_summary``, docs/deployment.md "Logs").

Computed from the database, so it is the same in every shape (embedded, single host, fleet)
and whichever worker runs it. Three indexed queries whatever the number of monitors: the
results of the window on ``result_date_idx``, the due unclaimed monitors on ``monitor_due_idx``
(a healthy dispatcher leaves none: it claims slots ahead), the monitors down on
``alerts_state_down_idx``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Min, Q

from alerts.models import AlertLevel, AlertState
from lib.status import Status
from monitors.models import Monitor
from results.models import Result

logger = logging.getLogger("nanomon.summary")


@dataclass(frozen=True)
class ActivitySummary:
    """What the monitoring loop did in ``[now - window, now)`` and where it stands at ``now``."""

    window_seconds: float
    runs: int  # results whose run started in the window
    monitors: int  # distinct monitors among them
    ok: int
    error: int
    failed: int
    due: int  # enabled monitors whose slot has passed, free to claim and not claimed yet
    lag_seconds: float  # how late the oldest of them is (0 when none is)
    down: int  # monitors down for alerting now

    def line(self) -> str:
        return (
            f"last {self.window_seconds:g}s: {self.runs} runs of {self.monitors} monitors "
            f"(ok {self.ok}, error {self.error}, failed {self.failed}); "
            f"dispatcher lag {self.lag_seconds:.1f}s ({self.due} due); {self.down} down"
        )


def activity_summary(*, now: datetime, window: timedelta) -> ActivitySummary:
    """The summary of the window ending at ``now`` (three queries)."""
    results = Result.objects.filter(date__gte=now - window, date__lt=now).aggregate(
        runs=Count("id"),
        monitors=Count("monitor_id", distinct=True),
        ok=Count("id", filter=Q(status=Status.OK)),
        error=Count("id", filter=Q(status=Status.ERROR)),
        failed=Count("id", filter=Q(status=Status.FAILED)),
    )
    # What the dispatcher could claim and has not: a claimed monitor has moved on to a later
    # slot, and one whose slot passed while its last run still holds the lease is not late
    # for the dispatcher (its results show the schedule lag).
    due = (
        Monitor.objects.filter(enabled=True, next_run_at__lte=now)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lte=now))
        .aggregate(due=Count("id"), oldest=Min("next_run_at"))
    )
    lag = (now - due["oldest"]).total_seconds() if due["oldest"] else 0.0
    down = AlertState.objects.filter(state=AlertLevel.DOWN).count()
    return ActivitySummary(
        window_seconds=window.total_seconds(),
        runs=results["runs"],
        monitors=results["monitors"],
        ok=results["ok"],
        error=results["error"],
        failed=results["failed"],
        due=due["due"],
        lag_seconds=max(0.0, lag),
        down=down,
    )


def log_activity_summary(*, now: datetime, window: timedelta) -> ActivitySummary:
    """Log the summary as one line: INFO, or WARNING when the oldest due monitor is more than
    a whole window late (the dispatcher or the workers are not keeping up)."""
    summary = activity_summary(now=now, window=window)
    late = summary.lag_seconds > summary.window_seconds
    logger.log(logging.WARNING if late else logging.INFO, "%s", summary.line())
    return summary
