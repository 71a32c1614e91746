"""Reads of the metrics app: monitors with their current state, counters, workers seen."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Max, Q, Subquery

from metrics.models import EngineCounter, WorkerHeartbeat
from monitors.models import Monitor

# "Workers seen recently" (/api/status, nanomon_workers_seen): a heartbeat within this window.
WORKERS_SEEN_WINDOW = timedelta(minutes=2)


@dataclass(frozen=True)
class MonitorSnapshot:
    """A monitor and where it stands, as the collector exports it."""

    id: int
    name: str
    kind: str
    enabled: bool
    last_status: int | None
    last_run_at: datetime | None
    last_value: float | None
    last_outputs: dict[str, Any] | None
    consecutive_failures: int


def monitor_snapshots() -> list[MonitorSnapshot]:
    """Every monitor with its current state, in ONE query (a left join on the state)."""
    rows = Monitor.objects.order_by("id").values_list(
        "id",
        "name",
        "kind",
        "enabled",
        "state__last_status",
        "state__last_run_at",
        "state__last_value",
        "state__last_outputs",
        "state__consecutive_failures",
    )
    return [
        MonitorSnapshot(
            id=id_,
            name=name,
            kind=kind,
            enabled=enabled,
            last_status=last_status,
            last_run_at=last_run_at,
            last_value=last_value,
            last_outputs=last_outputs if isinstance(last_outputs, dict) else None,
            consecutive_failures=failures or 0,
        )
        for (
            id_,
            name,
            kind,
            enabled,
            last_status,
            last_run_at,
            last_value,
            last_outputs,
            failures,
        ) in rows.iterator(chunk_size=5000)
    ]


def engine_counters() -> list[tuple[str, str, str, float]]:
    """Every counter row as (name, label, bucket, value)."""
    return list(EngineCounter.objects.values_list("name", "label", "bucket", "value"))


def workers_seen(*, since: datetime) -> list[tuple[str, datetime]]:
    """Workers whose last heartbeat is at or after ``since``, by name: (name, last_seen_at)."""
    return list(
        WorkerHeartbeat.objects.filter(last_seen_at__gte=since)
        .order_by("name")
        .values_list("name", "last_seen_at")
    )


def monitor_counts() -> dict[str, int]:
    """How many monitors there are, and how many are enabled (one query)."""
    counts = Monitor.objects.aggregate(
        total=Count("id"), enabled=Count("id", filter=Q(enabled=True))
    )
    return {"total": counts["total"], "enabled": counts["enabled"]}


def loop_state(*, now: datetime) -> tuple[datetime | None, datetime | None]:
    """(when any worker was last seen, the slot of the enabled monitor that has waited
    longest to be claimed), in ONE query; (None, None) when no worker was ever seen.

    The waiting monitor is one walk of ``monitor_due_idx`` from its oldest end (a monitor still
    held by its run's lease waits for that run, not for the dispatcher, and is skipped), done
    as a scalar subquery of the heartbeats' aggregate.
    """
    oldest_due = (
        Monitor.objects.filter(enabled=True, next_run_at__lte=now)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lte=now))
        .order_by("next_run_at")
        .values("next_run_at")[:1]
    )
    row = WorkerHeartbeat.objects.aggregate(
        last_seen=Max("last_seen_at"), oldest_due=Max(Subquery(oldest_due))
    )
    return row["last_seen"], row["oldest_due"]
