"""Retention of raw results: whole days dropped on PostgreSQL, bounded batches elsewhere.

PostgreSQL (migration results 0002): ``results_result`` is partitioned by RANGE on ``date``,
one partition per UTC day named ``results_result_pYYYYMMDD``, plus ``results_result_default``
(the DEFAULT partition) that catches rows outside the created days so an insert never fails.
``results_retention()`` (the beat task ``results.tasks.results_retention`` and
``manage.py results_retention``):

* creates the partitions of today and ``DAYS_AHEAD`` days ahead that are missing. A day is
  created as a plain table, the day's rows (if any) move from the DEFAULT partition into it,
  and it is attached: ATTACH takes SHARE UPDATE EXCLUSIVE on the parent, so inserts go on;
* drops every day partition whose whole day is older than ``RESULTS_RETENTION`` with a plain
  ``DROP TABLE``, one transaction per day, under ``LOCK_TIMEOUT``. The drop takes ACCESS
  EXCLUSIVE on the partition, the parent and the DEFAULT partition (``pg_locks``) for the
  milliseconds of the catalog change
  (``bench/retention.py`` measures it, with inserts running): an insert waits that long. A
  long query on the parent makes the drop give up (lock timeout) rather than queue inserts
  behind it; the next run tries again. (``DETACH PARTITION ... CONCURRENTLY`` would need no
  parent lock, but PostgreSQL refuses it on a table with a DEFAULT partition.);
* deletes the DEFAULT partition's rows older than the retention in batches.

Elsewhere (SQLite, or a PostgreSQL table not partitioned): results older than the retention are
deleted ``BATCH_SIZE`` rows per statement, oldest first by the date index, each statement its
own transaction, so the write lock is never held for long.

A result is kept at least ``RESULTS_RETENTION`` and, on PostgreSQL, at most one day more (a day
goes when all of it is older). ``RESULTS_RETENTION`` 0 keeps results for ever.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from results.models import Result

logger = logging.getLogger(__name__)

TABLE = Result._meta.db_table
DEFAULT_PARTITION = f"{TABLE}_default"
DAYS_AHEAD = 3
BATCH_SIZE = 5000
LOCK_TIMEOUT = "2s"
ADVISORY_LOCK = 0x6E616E6F  # "nano": one retention run at a time on PostgreSQL
# One run deletes batches for at most this long; the next run carries on.
DELETE_BUDGET_SECONDS = 300.0
_DAY_NAME = re.compile(rf"^{TABLE}_p(\d{{8}})$")


@dataclass
class DayPartition:
    name: str
    day: date
    rows: int = 0  # estimate (pg_class.reltuples); exact count costs a scan
    bytes: int = 0
    # Once dropped: the DROP TABLE statement (catalog change, locks held) and the whole
    # transaction (PostgreSQL deletes the files at commit, after releasing the locks).
    drop_statement_seconds: float | None = None
    drop_seconds: float | None = None


@dataclass
class RetentionReport:
    """What a run did, or would do (``dry_run``)."""

    dry_run: bool
    partitioned: bool
    cutoff: datetime | None  # None: keep for ever
    created: list[str] = field(default_factory=list)
    dropped: list[DayPartition] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # drops that timed out on their lock
    deleted: int = 0  # rows deleted in batches (DEFAULT partition, or the whole table)
    batches: int = 0
    seconds: float = 0.0

    def lines(self) -> list[str]:
        verb = "would" if self.dry_run else "did"
        keep = "for ever" if self.cutoff is None else f"since {self.cutoff:%Y-%m-%d %H:%M:%S} UTC"
        shape = "day partitions" if self.partitioned else "batched deletes"
        out = [f"results retention ({shape}); keeping results {keep}"]
        out += [f"{verb} create partition {name}" for name in self.created]
        out += [
            f"{verb} drop partition {p.name} ({p.day}, ~{p.rows} rows, {p.bytes} bytes"
            + (
                f", {p.drop_seconds:.3f}s, statement {p.drop_statement_seconds:.3f}s)"
                if p.drop_seconds is not None
                else ")"
            )
            for p in self.dropped
        ]
        out += [
            f"skipped dropping {name} (lock not granted; next run retries)" for name in self.skipped
        ]
        where = "from the default partition" if self.partitioned else ""
        out.append(
            f"{verb} delete {self.deleted} expired rows {where} in {self.batches} batches".replace(
                "  ", " "
            )
        )
        out.append(f"took {self.seconds:.3f}s")
        return out


def retention_cutoff(now: datetime | None = None, retention_seconds: float | None = None):
    """Results older than this go; None when they are kept for ever."""
    seconds = settings.RESULTS_RETENTION_SECONDS if retention_seconds is None else retention_seconds
    if not seconds:
        return None
    return (now or timezone.now()) - timedelta(seconds=seconds)


def is_partitioned() -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [TABLE])
        row = cursor.fetchone()
    return row is not None and row[0] == "p"


def day_partitions() -> list[DayPartition]:
    """The day partitions that exist, oldest first, with their size."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, c.reltuples::bigint, pg_total_relation_size(c.oid) "
            "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass",
            [TABLE],
        )
        rows = cursor.fetchall()
    days = []
    for name, tuples, size in rows:
        match = _DAY_NAME.match(name)
        if match:
            day = datetime.strptime(match.group(1), "%Y%m%d").date()
            days.append(DayPartition(name, day, max(int(tuples), 0), int(size)))
    return sorted(days, key=lambda p: p.day)


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


def _lock_timed_out(error: Exception) -> bool:
    cause = error.__cause__ or error
    return getattr(cause, "sqlstate", None) == "55P03" or "lock timeout" in str(error)


def partition_create(day: date) -> str | None:
    """Create the partition of one UTC day, moving the day's rows out of the DEFAULT partition
    (ATTACH refuses a range the DEFAULT partition holds rows of). One transaction. None when a
    lock was not granted within LOCK_TIMEOUT (a long transaction on the DEFAULT partition):
    the next run retries, and meanwhile the day's rows land in the DEFAULT partition."""
    name = f"{TABLE}_p{day:%Y%m%d}"
    start, end = _day_bounds(day)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            cursor.execute(
                f"CREATE TABLE {name} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
            )
            # Proves the range to ATTACH, which then skips scanning the new table.
            cursor.execute(
                f"ALTER TABLE {name} ADD CONSTRAINT {name}_bound "
                "CHECK (date IS NOT NULL AND date >= %s AND date < %s)",
                [start, end],
            )
            cursor.execute(
                f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} "  # noqa: S608 (names from here)
                "WHERE date >= %s AND date < %s RETURNING *) "
                f"INSERT INTO {name} SELECT * FROM moved",
                [start, end],
            )
            cursor.execute(
                f"ALTER TABLE {TABLE} ATTACH PARTITION {name} FOR VALUES FROM (%s) TO (%s)",
                [start, end],
            )
            cursor.execute(f"ALTER TABLE {name} DROP CONSTRAINT {name}_bound")
    except Exception as error:
        if not _lock_timed_out(error):
            raise
        logger.warning("results: creating %s timed out on a lock; next run retries", name)
        return None
    logger.info("results: created partition %s", name)
    return name


def partition_drop(name: str) -> tuple[float, float] | None:
    """Drop one day partition. Returns the seconds of the DROP TABLE statement (locks held,
    catalog changed) and of the whole transaction (the files are deleted at commit, after the
    locks are released); None when a lock was not granted within LOCK_TIMEOUT."""
    if not _DAY_NAME.match(name):
        raise ValueError(f"not a day partition of {TABLE}: {name!r}")
    began = time.monotonic()
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            statement_began = time.monotonic()
            cursor.execute(f"DROP TABLE {name}")
            statement = time.monotonic() - statement_began
    except Exception as error:
        if not _lock_timed_out(error):
            raise
        logger.warning("results: dropping %s timed out on its lock; next run retries", name)
        return None
    total = time.monotonic() - began
    logger.info("results: dropped partition %s (%.3fs, statement %.3fs)", name, total, statement)
    return statement, total


def delete_expired_batches(
    table: str, cutoff: datetime, *, batch_size: int = BATCH_SIZE, budget: float | None = None
) -> tuple[int, int]:
    """Delete rows of ``table`` dated before ``cutoff``, ``batch_size`` per statement, oldest
    first, each statement in its own transaction. Returns (rows, batches)."""
    budget = DELETE_BUDGET_SECONDS if budget is None else budget
    started = time.monotonic()
    deleted = batches = 0
    sql = (
        f"DELETE FROM {table} WHERE id IN "  # noqa: S608 (names from this module)
        f"(SELECT id FROM {table} WHERE date < %s ORDER BY date LIMIT %s)"
    )
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [cutoff, batch_size])
            count = cursor.rowcount
        deleted += count
        batches += 1
        if count < batch_size or time.monotonic() - started > budget:
            return deleted, batches


def count_expired(table: str, cutoff: datetime) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table} WHERE date < %s", [cutoff])  # noqa: S608
        return cursor.fetchone()[0]


def results_retention(
    *,
    now: datetime | None = None,
    retention_seconds: float | None = None,
    days_ahead: int = DAYS_AHEAD,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
) -> RetentionReport:
    """Create day partitions ahead, drop the expired ones, delete expired stragglers in batches
    (see the module docstring). Never call inside a transaction: each step commits alone."""
    started = time.monotonic()
    now = now or timezone.now()
    cutoff = retention_cutoff(now, retention_seconds)
    partitioned = is_partitioned()
    report = RetentionReport(dry_run=dry_run, partitioned=partitioned, cutoff=cutoff)
    if partitioned and not dry_run:
        # One run at a time (two beats, or the command beside the task).
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK])
            if not cursor.fetchone()[0]:
                report.skipped.append("(another retention run holds the lock)")
                return report
        try:
            return _run(report, now, cutoff, days_ahead, dry_run, batch_size, started)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK])
    return _run(report, now, cutoff, days_ahead, dry_run, batch_size, started)


def _run(report, now, cutoff, days_ahead, dry_run, batch_size, started) -> RetentionReport:
    partitioned = report.partitioned
    if partitioned:
        existing = day_partitions()
        have = {p.day for p in existing}
        today = now.astimezone(UTC).date()
        for n in range(days_ahead + 1):
            day = today + timedelta(days=n)
            if day in have:
                continue
            name = f"{TABLE}_p{day:%Y%m%d}"
            if dry_run or partition_create(day):
                report.created.append(name)
            else:
                report.skipped.append(name)
        if cutoff is not None:
            for part in existing:
                if _day_bounds(part.day)[1] <= cutoff:
                    timing = None if dry_run else partition_drop(part.name)
                    if dry_run or timing:
                        part.drop_statement_seconds, part.drop_seconds = timing or (None, None)
                        report.dropped.append(part)
                    else:
                        report.skipped.append(part.name)
        table = DEFAULT_PARTITION
    else:
        table = TABLE
    if cutoff is not None:
        if dry_run:
            report.deleted = count_expired(table, cutoff)
            report.batches = -(-report.deleted // batch_size)
        else:
            report.deleted, report.batches = delete_expired_batches(
                table, cutoff, batch_size=batch_size
            )
    report.seconds = time.monotonic() - started
    if not dry_run and (report.created or report.dropped or report.deleted):
        logger.info(
            "results retention: %d partitions created, %d dropped, %d rows deleted in %.3fs",
            len(report.created),
            len(report.dropped),
            report.deleted,
            report.seconds,
        )
    return report
