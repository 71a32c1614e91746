"""Writes of the rollups (``results.models.Rollup``): with each batch, rebuilt, and expired.

- ``rollups_add(results)``: the batch's results added to their monitors' hour and day rows.
  ``loop.batches.batch_record`` calls it in its transaction, after the results and the state,
  with the monitors' rows locked: the rows of a monitor change under its lock only (a read,
  then one upsert), and a rolled-back batch takes its rollup increments with it. A batch is
  never recorded twice (its runs' claims are released in the same transaction), so each result
  is counted exactly once.
- ``rollups_rebuild_monitor(monitor_id, since)``: the monitor's rows from ``since`` (a UTC
  day) recomputed from the raw results, under the same lock (``manage.py rollups_rebuild``).
- ``rollups_delete_old(now)``: hour rows older than ``ROLLUP_HOURLY_RETENTION`` (31d) and day
  rows older than ``ROLLUP_RETENTION`` (400d), deleted in batches (``results.tasks``' hourly
  retention pass).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from lib.status import Status
from monitors.models import Monitor
from results.history import floor_day, floor_hour
from results.models import Result, Rollup
from results.sketch import bucket, sketch_merge

HOUR = Rollup.Resolution.HOUR
DAY = Rollup.Resolution.DAY
COUNTERS = ("runs_ok", "runs_error", "runs_failed", "value_count", "value_sum")
UPDATE_FIELDS = [*COUNTERS, "value_min", "value_max", "sketch"]
DELETE_BATCH = 10_000


@dataclass
class Tally:
    """Runs of one monitor in one hour or day, being added up."""

    runs_ok: int = 0
    runs_error: int = 0
    runs_failed: int = 0
    value_count: int = 0
    value_sum: float = 0.0
    value_min: float | None = None
    value_max: float | None = None
    sketch: dict[str, int] = field(default_factory=dict)

    def add(self, status: int, value: float) -> None:
        if status == Status.OK:
            self.runs_ok += 1
        elif status == Status.ERROR:
            self.runs_error += 1
        else:
            self.runs_failed += 1
            return  # a Failed run measured nothing (its value is 0)
        if not math.isfinite(value):
            return
        self.value_count += 1
        self.value_sum += value
        self.value_min = value if self.value_min is None else min(self.value_min, value)
        self.value_max = value if self.value_max is None else max(self.value_max, value)
        key = str(bucket(value))
        self.sketch[key] = self.sketch.get(key, 0) + 1

    def merge(self, row: Rollup) -> None:
        """Add a stored row's figures (the tally then holds both)."""
        for name in COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(row, name))
        for name, pick in (("value_min", min), ("value_max", max)):
            stored = getattr(row, name)
            if stored is not None:
                mine = getattr(self, name)
                setattr(self, name, stored if mine is None else pick(mine, stored))
        sketch_merge(self.sketch, row.sketch or {})

    def row(self, monitor_id: int, resolution: str, start: datetime) -> Rollup:
        return Rollup(
            monitor_id=monitor_id,
            resolution=resolution,
            start=start,
            runs_ok=self.runs_ok,
            runs_error=self.runs_error,
            runs_failed=self.runs_failed,
            value_count=self.value_count,
            value_sum=self.value_sum,
            value_min=self.value_min,
            value_max=self.value_max,
            sketch=self.sketch,
        )


Key = tuple[int, str, datetime]


def tally(runs: Iterable[tuple[int, datetime, int, float]]) -> dict[Key, Tally]:
    """Hour and day tallies of ``(monitor_id, date, status, value)`` runs."""
    tallies: dict[Key, Tally] = {}
    for monitor_id, date, status, value in runs:
        hour = floor_hour(date)
        for key in ((monitor_id, HOUR, hour), (monitor_id, DAY, hour.replace(hour=0))):
            found = tallies.get(key)
            if found is None:
                found = tallies[key] = Tally()
            found.add(status, value)
    return tallies


def _upsert(tallies: dict[Key, Tally]) -> None:
    Rollup.objects.bulk_create(
        [entry.row(*key) for key, entry in tallies.items()],
        update_conflicts=True,
        unique_fields=["monitor", "resolution", "start"],
        update_fields=UPDATE_FIELDS,
        batch_size=1000,
    )


def rollups_add(results: Sequence[Result]) -> None:
    """Add ``results`` to their monitors' hour and day rollups: one read of the rows they
    touch, one upsert. Call with the results' monitors locked (``batch_record``)."""
    if not results:
        return
    tallies = tally((r.monitor_id, r.date, r.status, r.value) for r in results)
    stored = Rollup.objects.filter(
        monitor_id__in={key[0] for key in tallies},
        start__in={key[2] for key in tallies},
    )
    for row in stored:
        entry = tallies.get((row.monitor_id, row.resolution, row.start))
        if entry is not None:
            entry.merge(row)
    _upsert(tallies)


def rollups_rebuild_monitor(monitor_id: int, since: datetime) -> tuple[int, int]:
    """Recompute one monitor's rollups from ``since`` (truncated to its UTC day) from its raw
    results, in one transaction under the monitor's lock. Returns (results read, rows
    written)."""
    since = floor_day(since)
    with transaction.atomic():
        if not Monitor.objects.select_for_update().filter(pk=monitor_id).exists():
            return 0, 0
        Rollup.objects.filter(monitor_id=monitor_id, start__gte=since).delete()
        runs = (
            Result.objects.filter(monitor_id=monitor_id, date__gte=since)
            .order_by()
            .values_list("monitor_id", "date", "status", "value")
        )
        counted = 0

        def counting() -> Iterable[tuple[int, datetime, int, float]]:
            nonlocal counted
            for run in runs.iterator(chunk_size=5000):
                counted += 1
                yield run

        tallies = tally(counting())
        _upsert(tallies)
    return counted, len(tallies)


def rebuild_since_default(now: datetime | None = None) -> datetime | None:
    """Where a rebuild starts by default: the UTC day of the oldest raw result, but never a
    day that results retention may have cut into (its raw results are partly gone; the
    rollups hold them). None without results."""
    oldest = Result.objects.order_by("date").values_list("date", flat=True).first()
    if oldest is None:
        return None
    since = floor_day(oldest)
    retention = settings.RESULTS_RETENTION_SECONDS
    if retention:
        cutoff = (now or timezone.now()) - timedelta(seconds=retention)
        if since < cutoff:
            since = floor_day(cutoff) + timedelta(days=1)
    return since


def rollups_delete_old(now: datetime | None = None, *, batch: int = DELETE_BATCH) -> int:
    """Delete hour rows older than ``ROLLUP_HOURLY_RETENTION`` and day rows older than
    ``ROLLUP_RETENTION`` (0: kept for ever), ``batch`` rows per statement. Returns how many
    went."""
    now = now or timezone.now()
    deleted = 0
    for resolution, seconds in (
        (HOUR, settings.ROLLUP_HOURLY_RETENTION_SECONDS),
        (DAY, settings.ROLLUP_RETENTION_SECONDS),
    ):
        if not seconds:
            continue
        cutoff = now - timedelta(seconds=seconds)
        while True:
            ids = list(
                Rollup.objects.filter(resolution=resolution, start__lt=cutoff)
                .order_by()
                .values_list("pk", flat=True)[:batch]
            )
            if not ids:
                break
            deleted += Rollup.objects.filter(pk__in=ids).delete()[0]
    return deleted
