"""Writes of the rollups (``results.models.Rollup``): with each batch, rebuilt, and expired.

- ``rollups_add(results)``: the batch's results added to their monitors' hour and day rows.
  ``loop.batches.batch_record`` calls it in its transaction, after the results and the state,
  with the monitors' rows locked: the rows of a monitor change under its lock only (a read,
  then one upsert), and a rolled-back batch takes its rollup increments with it. A batch is
  never recorded twice (its runs' claims are released in the same transaction), so each result
  is counted exactly once.
- ``rollups_rebuild_monitor(monitor_id, since, in_maintenance)``: the monitor's rows from
  ``since`` (a UTC day) recomputed from the raw results, under the same lock (``manage.py
  rollups_rebuild``, which passes the maintenance windows as they stand then).
- ``rollups_delete_old(now)``: hour rows older than ``ROLLUP_HOURLY_RETENTION`` (31d) and day
  rows older than ``ROLLUP_RETENTION`` (400d), deleted in batches (``results.tasks``' hourly
  retention pass).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from lib.status import Status
from monitors.models import Monitor
from results.history import floor_day, floor_hour
from results.models import Result, Rollup
from results.sketch import bucket, sketch_merge

HOUR = Rollup.Resolution.HOUR
DAY = Rollup.Resolution.DAY
COUNTERS = (
    "runs_ok", "runs_error", "runs_failed", "runs_maintenance", "runs_maintenance_ok",
    "value_count", "value_sum",
)  # fmt: skip
UPDATE_FIELDS = [*COUNTERS, "value_min", "value_max", "sketch"]
DELETE_BATCH = 10_000


@dataclass
class Tally:
    """Runs of one monitor in one hour or day, being added up."""

    runs_ok: int = 0
    runs_error: int = 0
    runs_failed: int = 0
    runs_maintenance: int = 0
    runs_maintenance_ok: int = 0
    value_count: int = 0
    value_sum: float = 0.0
    value_min: float | None = None
    value_max: float | None = None
    sketch: dict[str, int] = field(default_factory=dict)

    def add(self, status: int, value: float, maintenance: bool = False) -> None:
        if maintenance:
            self.runs_maintenance += 1
            self.runs_maintenance_ok += status == Status.OK
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

    def merge(self, row: Sequence) -> None:
        """Add a stored row's figures, as ``STORED`` lists them (the tally then holds both)."""
        ok, error, failed, maintenance, maintenance_ok, count, total, low, high, sketch = row
        self.runs_ok += ok
        self.runs_error += error
        self.runs_failed += failed
        self.runs_maintenance += maintenance
        self.runs_maintenance_ok += maintenance_ok
        self.value_count += count
        self.value_sum += total
        if low is not None:
            self.value_min = low if self.value_min is None else min(self.value_min, low)
        if high is not None:
            self.value_max = high if self.value_max is None else max(self.value_max, high)
        sketch_merge(self.sketch, sketch or {})


Key = tuple[int, str, datetime]


def tally(runs: Iterable[tuple[int, datetime, int, float, bool]]) -> dict[Key, Tally]:
    """Hour and day tallies of ``(monitor_id, date, status, value, in maintenance)`` runs."""
    tallies: dict[Key, Tally] = {}
    for monitor_id, date, status, value, maintenance in runs:
        hour = floor_hour(date)
        for key in ((monitor_id, HOUR, hour), (monitor_id, DAY, hour.replace(hour=0))):
            found = tallies.get(key)
            if found is None:
                found = tallies[key] = Tally()
            found.add(status, value, maintenance)
    return tallies


# On PostgreSQL a conflicting row is added to in SQL: counters summed, min and max kept
# (LEAST/GREATEST skip NULLs), the sketches' counts added key by key.
_INCREMENT = {
    **{name: f"{{t}}.{name} + EXCLUDED.{name}" for name in COUNTERS},
    "value_min": "LEAST({t}.value_min, EXCLUDED.value_min)",
    "value_max": "GREATEST({t}.value_max, EXCLUDED.value_max)",
    "sketch": "COALESCE((SELECT jsonb_object_agg(k, n) FROM (SELECT k, sum(v::bigint) AS n FROM "
    "(SELECT * FROM jsonb_each_text({t}.sketch) UNION ALL "
    "SELECT * FROM jsonb_each_text(EXCLUDED.sketch)) AS e(k, v) GROUP BY k) AS g), '{{}}')",
}


def _upsert(tallies: dict[Key, Tally], *, add: bool = False) -> None:
    """Write the tallies as their rows: ``INSERT … ON CONFLICT (monitor, resolution, start)
    DO UPDATE``, replacing a stored row, or with ``add`` (PostgreSQL) adding to it. Plain
    SQL: the ORM's ``bulk_create(update_conflicts=True)`` spent as much Python time as the
    rest of a batch's recording. On PostgreSQL the rows go as 13 arrays (``unnest``): psycopg
    then binds 13 parameters, not 13 per row (splitting a query of a thousand placeholders
    cost it more than the database's work); SQLite takes ``VALUES``."""
    if not tallies:
        return
    quote = connection.ops.quote_name
    table = quote(Rollup._meta.db_table)
    columns = ["monitor_id", "resolution", "start", *UPDATE_FIELDS]
    conflict = " ON CONFLICT (monitor_id, resolution, start) DO UPDATE SET " + ", ".join(
        f"{quote(name)} = " + (_INCREMENT[name].format(t=table) if add else f"EXCLUDED.{name}")
        for name in UPDATE_FIELDS
    )
    head = f"INSERT INTO {table} ({', '.join(map(quote, columns))}) "
    rows = [
        (monitor_id, resolution, start, entry.runs_ok, entry.runs_error, entry.runs_failed,
         entry.runs_maintenance, entry.runs_maintenance_ok, entry.value_count, entry.value_sum,
         entry.value_min, entry.value_max,
         json.dumps(entry.sketch, separators=(",", ":")))
        for (monitor_id, resolution, start), entry in tallies.items()
    ]  # fmt: skip
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            types = ("bigint", "text", "timestamptz", "int", "int", "int", "int", "int", "int",
                     "float8", "float8", "float8", "text")  # fmt: skip
            arrays = ", ".join(f"%s::{kind}[]" for kind in types)
            names = [f"c{index}" for index in range(len(types))]
            selected = ", ".join([*names[:-1], f"{names[-1]}::jsonb"])  # the sketch
            cursor.execute(
                f"{head}SELECT {selected} "  # noqa: S608
                f"FROM unnest({arrays}) AS u({', '.join(names)}){conflict}",
                [list(column) for column in zip(*rows, strict=True)],
            )
            return
        start_field = Rollup._meta.get_field("start")
        per_statement = max(
            1, min(500, (connection.features.max_query_params or 10**6) // len(columns))
        )
        row_marks = "(" + ", ".join(["%s"] * len(columns)) + ")"
        for first in range(0, len(rows), per_statement):
            chunk = rows[first : first + per_statement]
            cursor.execute(
                head + "VALUES " + ", ".join([row_marks] * len(chunk)) + conflict,
                [
                    value
                    for row in chunk
                    for value in (
                        *row[:2],
                        start_field.get_db_prep_save(row[2], connection),
                        *row[3:],
                    )
                ],
            )


# What ``Tally.merge`` reads of a stored row.
STORED = (*COUNTERS, "value_min", "value_max", "sketch")


def rollups_add(results: Sequence[Result], maintenance: Sequence[bool] | None = None) -> None:
    """Add ``results`` to their monitors' hour and day rollups: on PostgreSQL one upsert
    that adds to the stored rows; elsewhere one read of the rows they touch, then one upsert.
    ``maintenance`` says, result by result, which started inside a maintenance window (the
    caller knows the windows: ``alerts.maintenance.runs_in_maintenance``). Call with the
    results' monitors locked (``batch_record``)."""
    if not results:
        return
    marks = maintenance if maintenance is not None else [False] * len(results)
    tallies = tally(
        (r.monitor_id, r.date, r.status, r.value, marked)
        for r, marked in zip(results, marks, strict=True)
    )
    if connection.vendor == "postgresql":
        _upsert(tallies, add=True)
        return
    stored = Rollup.objects.filter(
        monitor_id__in={key[0] for key in tallies},
        start__in={key[2] for key in tallies},
    ).values_list("monitor_id", "resolution", "start", *STORED)
    for monitor_id, resolution, start, *figures in stored:
        entry = tallies.get((monitor_id, resolution, start))
        if entry is not None:
            entry.merge(figures)
    _upsert(tallies)


def rollups_rebuild_monitor(
    monitor_id: int,
    since: datetime,
    in_maintenance: Callable[[datetime], bool] | None = None,
) -> tuple[int, int]:
    """Recompute one monitor's rollups from ``since`` (truncated to its UTC day) from its raw
    results, in one transaction under the monitor's lock; ``in_maintenance(started)`` says
    which runs count as maintenance (none without it). Returns (results read, rows
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

        def counting() -> Iterable[tuple[int, datetime, int, float, bool]]:
            nonlocal counted
            for run in runs.iterator(chunk_size=5000):
                counted += 1
                yield (*run, bool(in_maintenance and in_maintenance(run[1])))

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
