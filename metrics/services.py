"""Writes of the metrics app: the engine's counters and the workers' heartbeats.

Public entry points for other apps:

* ``engine_stats_record(probes=..., written=...)``: called by ``loop.batches.batch_record``
  inside its transaction; adds a batch's probes, durations and schedule lag in one query.
* ``notifications_count(channel=..., sent=..., failed=...)``: deliveries of notifications
  (``nanomon_notifications_sent_total`` / ``_failed_total``); ``delivery_attempt_count``
  receives the alerts app's ``delivery_attempted`` signal (connected in ``metrics.apps``).
* ``worker_heartbeat()``: a worker says it is alive (at most one write per 15 s per process).
* ``slots_skipped_count(by_kind)``: for the dispatcher, scheduled runs it had to skip
  (``nanomon_schedule_slots_skipped_total``).
"""

from __future__ import annotations

import bisect
import math
import socket
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

from lib.status import STATUS_WORDS
from metrics.models import EngineCounter, WorkerHeartbeat

# Histogram bounds in seconds (the +Inf bucket is implicit).
PROBE_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
SCHEDULE_LAG_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
INF_BUCKET = "+Inf"

# Counter row names (EngineCounter.name). Each is read back by metrics.collectors.
PROBES = "probes"  # label: type, bucket: status (ok / error / failed)
RESULTS_WRITTEN = "results_written"  # label: type
PROBE_DURATION_BUCKET = "probe_duration_bucket"  # label: type, bucket: le
PROBE_DURATION_SUM = "probe_duration_sum"  # label: type
SCHEDULE_LAG_BUCKET = "schedule_lag_bucket"  # bucket: le
SCHEDULE_LAG_SUM = "schedule_lag_sum"
SLOTS_SKIPPED = "slots_skipped"  # label: type
NOTIFICATIONS_SENT = "notifications_sent"  # label: channel
NOTIFICATIONS_FAILED = "notifications_failed"  # label: channel


HEARTBEAT_EVERY_SECONDS = 15.0
HEARTBEAT_KEEP = timedelta(days=7)
_last_heartbeats: dict[str, float] = {}  # worker name → time.monotonic() of its last write

CounterKey = tuple[str, str, str]  # (name, label, bucket)


@dataclass(frozen=True)
class ProbeRun:
    """What the counters need of one run, in plain values."""

    kind: str  # the monitor's type ("" counts as "unknown")
    status: int  # 0 OK, 1 Error, 2 Failed
    duration_seconds: float
    lag_seconds: float  # how late the run started against its slot


def bucket_for(seconds: float, bounds: Sequence[float]) -> str:
    """The ``le`` of the smallest bucket holding ``seconds`` (bounds sorted ascending)."""
    index = bisect.bisect_left(bounds, seconds)
    return format_bound(bounds[index]) if index < len(bounds) else INF_BUCKET


def format_bound(bound: float) -> str:
    """A bucket bound as Prometheus writes it: ``0.5``, ``1.0``, ``+Inf``."""
    return INF_BUCKET if math.isinf(bound) else repr(float(bound))


def counters_add(increments: Mapping[CounterKey, float]) -> None:
    """Add to counter rows, creating missing ones, in ONE statement.

    ``INSERT ... ON CONFLICT DO UPDATE SET value = value + excluded.value`` works on PostgreSQL
    and SQLite ≥ 3.24. Rows are sent in a fixed order so concurrent batches lock them in the
    same order and never deadlock each other.
    """
    rows = sorted(increments.items())
    if not rows:
        return
    quote = connection.ops.quote_name
    table = quote(EngineCounter._meta.db_table)
    name, label, bucket, value = (quote(column) for column in ("name", "label", "bucket", "value"))
    values = ", ".join(["(%s, %s, %s, %s)"] * len(rows))
    sql = (
        f"INSERT INTO {table} ({name}, {label}, {bucket}, {value}) VALUES {values} "  # noqa: S608
        f"ON CONFLICT ({name}, {label}, {bucket}) "
        f"DO UPDATE SET {value} = {table}.{value} + excluded.{value}"
    )
    params: list[object] = []
    for key, amount in rows:
        params.extend((*key, float(amount)))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def engine_stats_record(*, probes: Sequence[ProbeRun], written: Iterable[str]) -> None:
    """Count a batch: every run (by type and status, with its duration and schedule lag) and
    the results actually written, one monitor type per result (runs of monitors changed
    meanwhile are dropped).

    Called inside ``batch_record``'s transaction: the counts commit with the results.
    """
    increments: defaultdict[CounterKey, float] = defaultdict(float)
    for probe in probes:
        kind = probe.kind or "unknown"
        duration = max(0.0, probe.duration_seconds)
        lag = max(0.0, probe.lag_seconds)
        increments[(PROBES, kind, STATUS_WORDS.get(probe.status, "failed"))] += 1
        increments[(PROBE_DURATION_BUCKET, kind, bucket_for(duration, PROBE_DURATION_BUCKETS))] += 1
        increments[(PROBE_DURATION_SUM, kind, "")] += duration
        increments[(SCHEDULE_LAG_BUCKET, "", bucket_for(lag, SCHEDULE_LAG_BUCKETS))] += 1
        increments[(SCHEDULE_LAG_SUM, "", "")] += lag
    for kind in written:
        increments[(RESULTS_WRITTEN, kind or "unknown", "")] += 1
    counters_add(increments)
    worker_heartbeat()


def slots_skipped_count(by_kind: Mapping[str, int]) -> None:
    """Count scheduled runs that were skipped, by monitor type: the dispatcher found these
    monitors one interval or more behind (``monitors.scheduling.latest_due_slot``)."""
    counters_add({(SLOTS_SKIPPED, kind or "unknown", ""): n for kind, n in by_kind.items() if n})


def notifications_count(*, channel: str, sent: int = 0, failed: int = 0) -> None:
    """Count notification deliveries on ``channel`` (``email``, ``webhook``...), e.g.
    ``notifications_count(channel="email", sent=1)`` or ``(channel="email", failed=1)``."""
    increments: dict[CounterKey, float] = {}
    if sent:
        increments[(NOTIFICATIONS_SENT, channel, "")] = sent
    if failed:
        increments[(NOTIFICATIONS_FAILED, channel, "")] = failed
    counters_add(increments)


def delivery_attempt_count(sender: object, *, kind: str, succeeded: bool, **kwargs: object) -> None:
    """Receiver of ``alerts.signals.delivery_attempted``: count one delivery attempt, inside
    the transaction that records it."""
    notifications_count(channel=kind, sent=int(succeeded), failed=int(not succeeded))


def worker_name() -> str:
    """The Celery worker's node name (``celery@host``) inside a task, else the host name."""
    from celery import current_task

    hostname = getattr(getattr(current_task, "request", None), "hostname", None)
    return hostname or socket.gethostname()


def worker_heartbeat(*, now: datetime | None = None) -> bool:
    """Record that this worker is alive; at most one write per ``HEARTBEAT_EVERY_SECONDS`` per
    process and worker. Returns whether it wrote.

    Old rows (workers gone for ``HEARTBEAT_KEEP``) are pruned when this process writes.
    """
    name = worker_name()
    clock = time.monotonic()
    last = _last_heartbeats.get(name)
    if last is not None and clock - last < HEARTBEAT_EVERY_SECONDS:
        return False
    # Two threads racing here both write the same row: harmless, so no lock.
    _last_heartbeats[name] = clock
    now = now or timezone.now()
    WorkerHeartbeat.objects.bulk_create(
        [WorkerHeartbeat(name=name, last_seen_at=now)],
        update_conflicts=True,
        unique_fields=["name"],
        update_fields=["last_seen_at"],
    )
    if last is None:  # once per process start: forget workers long gone
        WorkerHeartbeat.objects.filter(last_seen_at__lt=now - HEARTBEAT_KEEP).delete()
    return True
