"""Retention benchmark: one day of raw results for 10,000 monitors at 60 s (14.4 M rows) in
its day partition, dropped by ``results.partitions.results_retention`` while writers insert.

    .venv/bin/python -m bench.retention                   # the figure (about 10 minutes)
    .venv/bin/python -m bench.retention --monitors 200    # a quick run

In a database of its own (``nanomon_bench_retention`` on ``DATABASE_URL``'s server, dropped at
the end unless ``--keep``): migrate (the results table is partitioned by day), create 10,000
monitors, create the partition of a day older than ``RESULTS_RETENTION`` (31 days) and fill it
server-side with ``INSERT … SELECT generate_series`` (one row per monitor per minute, one run in
fifty an Error, realistic outputs), ``VACUUM ANALYZE``. Then measure its disk size (per monitor
per day of raw results) and time the retention run that drops it, while ``--writers``
connections keep inserting groups of results into today's partition (what the loop's
``batch_record`` does); their insert latencies during the drop show what the drop's lock on
the parent costs them. Prints the figures and writes ``bench/out/retention-<UTC>.json``.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import db
from bench.common import OUT_DIR, print_table, run_metadata, summarize, write_json
from bench.seeding import insert_results_by_chunk, kind_of

CHUNK_MONITORS = 500
MB = 1024 * 1024


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.retention", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--monitors", type=int, default=10000)
    parser.add_argument("--interval", type=int, default=60, help="seconds between runs")
    parser.add_argument("--database", default="nanomon_bench_retention")
    parser.add_argument("--server-url", default=db.DEFAULT_SERVER_URL)
    parser.add_argument("--keep", action="store_true", help="keep the database at the end")
    parser.add_argument("--writers", type=int, default=2, help="connections inserting meanwhile")
    parser.add_argument("--group", type=int, default=100, help="rows per insert statement")
    parser.add_argument(
        "--cold", action="store_true",
        help="before the drop, CHECKPOINT and evict the day's files from the OS page cache "
        "(posix_fadvise; needs the server's data folder readable here), as for a day last "
        "written a month ago",
    )  # fmt: skip
    parser.add_argument("--out-dir", default=None)
    arguments = parser.parse_args(argv)
    db.check_name(arguments.database)
    if arguments.monitors < 1 or not 1 <= arguments.interval <= 86400:
        parser.error("--monitors must be at least 1 and --interval between 1 and 86400")
    return arguments


def seed_monitors(count: int) -> list[int]:
    from django.db import transaction

    from monitors.models import Monitor

    with transaction.atomic():
        rows = [
            Monitor(
                name=f"bench {kind_of(index)} {index:05d}",
                kind=kind_of(index),
                target=f"https://service-{index:05d}.example.org/health",
                interval="1m",
                interval_duration=timedelta(minutes=1),
                enabled=True,
                next_run_at=None,  # nothing runs them
            )
            for index in range(count)
        ]
        Monitor.objects.bulk_create(rows, batch_size=2000)
    return sorted(monitor.id for monitor in rows)


def seed_day(partition: str, day_start: datetime, ids: list[int], interval: int) -> int:
    """Fill one day partition directly (no routing): every monitor once per ``interval``."""

    runs = 86400 // interval
    statement = f"""
        INSERT INTO {partition} (monitor_id, monitor_name, monitor_target, date, scheduled_for,
                                 status, value, message, outputs, duration_ms)
        SELECT m.id, m.name, m.target,
               s.slot + interval '0.004 second', s.slot,
               CASE WHEN (m.id + s.k) %% 50 = 0 THEN 1 ELSE 0 END,
               20 + ((m.id * 7 + s.k) %% 30),
               CASE WHEN (m.id + s.k) %% 50 = 0 THEN 'Rule violated: status == 200' ELSE '' END,
               jsonb_build_object('respTime', 20 + ((m.id * 7 + s.k) %% 30),
                                  'status', 200, 'bodyLen', 2),
               21.5
        FROM monitors_monitor m
        CROSS JOIN LATERAL (
            SELECT k, %s::timestamptz + (k * %s + m.id %% %s) * interval '1 second' AS slot
            FROM generate_series(0, %s - 1) AS k
        ) s
        WHERE m.id BETWEEN %s AND %s
    """  # noqa: S608 (the partition's name comes from results.partitions)
    insert_results_by_chunk(
        statement, ids, CHUNK_MONITORS, [day_start, interval, interval, runs],
        progress="seeded one day", since=time.monotonic(),
    )  # fmt: skip
    return runs * len(ids)


def relation_sizes(partition: str) -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_total_relation_size(%s::regclass), pg_relation_size(%s::regclass), "
            "pg_indexes_size(%s::regclass), "
            "(SELECT count(*) FROM pg_inherits WHERE inhparent = 'results_result'::regclass)",
            [partition, partition, partition],
        )
        total, heap, indexes, partitions = cursor.fetchone()
    return {"total": total, "heap": heap, "indexes": indexes, "partitions": partitions}


def evict_from_page_cache(partition: str) -> int:
    """CHECKPOINT, then drop the partition's files (heap, TOAST, indexes) from the OS page
    cache; returns how many files. Only for a server on this machine whose files we may read."""
    import glob
    import os

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")
        cursor.execute("SHOW data_directory")
        data_directory = cursor.fetchone()[0]
        cursor.execute(
            "SELECT pg_relation_filepath(c.oid) FROM pg_class c WHERE c.oid = %s::regclass "
            "OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = %s::regclass) "
            "OR c.oid = (SELECT reltoastrelid FROM pg_class WHERE oid = %s::regclass) "
            "OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = "
            "(SELECT reltoastrelid FROM pg_class WHERE oid = %s::regclass))",
            [partition] * 4,
        )
        paths = [row[0] for row in cursor.fetchall() if row[0]]
    os.sync()
    files = 0
    for path in paths:
        for name in glob.glob(os.path.join(data_directory, path) + "*"):
            descriptor = os.open(name, os.O_RDONLY)
            try:
                os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(descriptor)
            files += 1
    if not files:
        raise RuntimeError(f"--cold: no file of {partition} readable under {data_directory}")
    return files


class Writers:
    """``count`` connections inserting groups of results into today's partition in a loop,
    each insert timed (start time, seconds)."""

    def __init__(self, database_url: str, count: int, group: int, monitor_ids: list[int]):
        self.database_url = database_url
        self.count = count
        self.group = group
        self.monitor_ids = monitor_ids
        self.stop = threading.Event()
        self.samples: list[tuple[float, float]] = []
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(n,)) for n in range(count)]

    def run(self, number: int) -> None:
        import psycopg

        statement = (
            "INSERT INTO results_result (monitor_id, monitor_name, monitor_target, date, "
            "scheduled_for, status, value, message, outputs, duration_ms) "
            "SELECT id, name, target, now(), now(), 0, 21.5, '', "
            "'{\"respTime\": 21.5}'::jsonb, 21.5 FROM monitors_monitor "
            "WHERE id = ANY(%s) RETURNING id"
        )
        offset = number * self.group
        with psycopg.connect(self.database_url, autocommit=True) as connection:
            while not self.stop.is_set():
                ids = self.monitor_ids[offset : offset + self.group] or self.monitor_ids[:1]
                offset = (offset + self.group * self.count) % max(1, len(self.monitor_ids))
                started = time.monotonic()
                try:
                    connection.execute(statement, [ids]).fetchall()
                except Exception as error:  # reported, never hidden
                    with self.lock:
                        self.errors.append(repr(error))
                    continue
                with self.lock:
                    self.samples.append((started, time.monotonic() - started))
                time.sleep(0.005)

    def __enter__(self) -> Writers:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(30)

    def between(self, start: float, end: float) -> list[float]:
        """Latencies of the inserts running at any moment of [start, end]."""
        with self.lock:
            return [s for t, s in self.samples if t <= end and t + s >= start]


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    meta = run_metadata()
    database_url = db.database_url(arguments.server_url, arguments.database)
    work_dir = (Path(arguments.out_dir) if arguments.out_dir else OUT_DIR) / "retention-work"
    environment = db.process_environment(
        database_url=database_url, broker_url="memory://", data_dir=work_dir / "data"
    )
    db.setup_django(environment)
    from django.db import connection, connections

    from results.partitions import partition_create, results_retention

    print(f"creating {arguments.database} on {arguments.server_url}", flush=True)
    db.create_database(arguments.server_url, arguments.database)
    try:
        db.migrate(environment)
        started = time.monotonic()
        ids = seed_monitors(arguments.monitors)
        now = datetime.now(UTC)
        retention = 31 * 86400
        day = (now - timedelta(days=40)).date()
        day_start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        partition = partition_create(day)
        print(f"seeding {partition}: {arguments.monitors} monitors every {arguments.interval}s")
        rows = seed_day(partition, day_start, ids, arguments.interval)
        seed_seconds = round(time.monotonic() - started, 1)
        connection.close()
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM ANALYZE {partition}")
            cursor.execute(f"SELECT count(*) FROM {partition}")  # noqa: S608
            counted = cursor.fetchone()[0]
        assert counted == rows, (counted, rows)
        sizes = relation_sizes(partition)
        # Warm the partition list (today's partitions exist since the migration).
        results_retention(now=now, retention_seconds=0)
        evicted = evict_from_page_cache(partition) if arguments.cold else 0
        with Writers(database_url, arguments.writers, arguments.group, ids) as writers:
            time.sleep(3)  # the writers' steady state
            before = time.monotonic()
            report = results_retention(now=now, retention_seconds=retention)
            after = time.monotonic()
            time.sleep(3)
        connections.close_all()
        dropped = [p.name for p in report.dropped]
        assert dropped == [partition], (dropped, partition, report.skipped)
        during = writers.between(before, after)
        steady = [s for t, s in writers.samples if t + s < before]
        per_monitor_day = sizes["total"] / arguments.monitors
        figures = {
            "rows_dropped": rows,
            "retention_run_seconds": round(after - before, 4),
            "report_seconds": round(report.seconds, 4),
            "drop_table_seconds": round(report.dropped[0].drop_seconds, 4),
            "drop_statement_seconds": round(report.dropped[0].drop_statement_seconds, 4),
            "partition_bytes": sizes,
            "bytes_per_monitor_per_day": round(per_monitor_day),
            "bytes_per_row": round(sizes["total"] / rows, 1),
            "mb_per_monitor_for_31_days": round(per_monitor_day * 31 / MB, 2),
            "inserts_during_drop": summarize(during, digits=4),
            "inserts_before_drop": summarize(steady, digits=4),
            "insert_errors": writers.errors[:5],
            "seed_seconds": seed_seconds,
            "cold": arguments.cold,
            "files_evicted": evicted,
        }
        print_table(
            f"retention: one day of {arguments.monitors} monitors every {arguments.interval}s"
            + (" (cold: checkpointed, out of the page cache)" if arguments.cold else ""),
            [
                "rows",
                "run s",
                "DROP s",
                "statement s",
                "MB",
                "B/monitor/day",
                "B/row",
                "MB/mon/31 d",
            ],
            [
                [
                    rows,
                    figures["retention_run_seconds"],
                    figures["drop_table_seconds"],
                    figures["drop_statement_seconds"],
                    sizes["total"] / MB,
                    figures["bytes_per_monitor_per_day"],
                    figures["bytes_per_row"],
                    figures["mb_per_monitor_for_31_days"],
                ]
            ],
        )
        print_table(
            f"inserts of {arguments.group} results by {arguments.writers} writers (seconds)",
            ["when", "count", "p50", "p99", "max"],
            [
                ["before the drop", *(figures["inserts_before_drop"][k] for k in STATS)],
                ["during the drop", *(figures["inserts_during_drop"][k] for k in STATS)],
            ],
        )
        if writers.errors:
            print(f"insert errors: {writers.errors[:5]}")
        write_json(
            "retention",
            {"meta": meta, "arguments": vars(arguments), "figures": figures},
            out_dir=Path(arguments.out_dir) if arguments.out_dir else None,
        )
    finally:
        connections.close_all()
        if arguments.keep:
            print(f"kept {arguments.database}")
        else:
            db.drop_database(arguments.server_url, arguments.database)
    return 0


STATS = ("count", "p50", "p99", "max")


if __name__ == "__main__":
    raise SystemExit(main())
