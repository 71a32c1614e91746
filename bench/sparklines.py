"""Sparkline benchmark: the monitor cards' "last 20 runs of each monitor" on the partitioned
results table, read as ``results.selectors.sparklines`` reads it (the last days' partitions
first) and as it did before (every partition at once).

    .venv/bin/python -m bench.sparklines                    # 100 monitors, 35 days, 1 min
    .venv/bin/python -m bench.sparklines --monitors 1000 --days 8

In a database of its own (``nanomon_bench_sparklines`` on ``DATABASE_URL``'s server, dropped at
the end unless ``--keep``): migrate (results partitioned by day), create ``--monitors``
monitors, create one partition per day for the ``--days`` days before today and fill each with
one run per monitor per ``--interval`` (``bench.retention.seed_day``), ``VACUUM ANALYZE``. Time
``--repeat`` reads of the sparklines of every monitor (one query) both ways, interleaved, and
check they return the same rows. Prints p50/p95 and writes ``bench/out/sparklines-<UTC>.json``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import db
from bench.common import OUT_DIR, print_table, run_metadata, summarize, write_json
from bench.retention import seed_day, seed_monitors

POINTS = 20


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.sparklines", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--monitors", type=int, default=100)
    parser.add_argument("--days", type=int, default=35, help="day partitions of results")
    parser.add_argument("--interval", type=int, default=60, help="seconds between runs")
    parser.add_argument("--repeat", type=int, default=50, help="timed reads of each way")
    parser.add_argument("--database", default="nanomon_bench_sparklines")
    parser.add_argument("--server-url", default=db.DEFAULT_SERVER_URL)
    parser.add_argument("--keep", action="store_true", help="keep the database at the end")
    parser.add_argument("--out-dir", default=None)
    arguments = parser.parse_args(argv)
    db.check_name(arguments.database)
    if arguments.monitors < 1 or arguments.days < 1 or arguments.repeat < 1:
        parser.error("--monitors, --days and --repeat must be at least 1")
    return arguments


def every_partition(ids: list[int]) -> list[tuple]:
    """The read before the partitions: newest first over every partition."""
    from django.db import connection

    query = (
        "SELECT ids.monitor_id, recent.status, recent.value "
        "FROM unnest(%s::bigint[]) AS ids(monitor_id) "
        "CROSS JOIN LATERAL ("
        "  SELECT r.date, r.id, r.status, r.value FROM results_result r "
        "  WHERE r.monitor_id = ids.monitor_id ORDER BY r.date DESC, r.id DESC LIMIT %s"
        ") AS recent "
        "ORDER BY ids.monitor_id, recent.date, recent.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(query, [ids, POINTS])
        return cursor.fetchall()


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    meta = run_metadata()
    database_url = db.database_url(arguments.server_url, arguments.database)
    work_dir = (Path(arguments.out_dir) if arguments.out_dir else OUT_DIR) / "sparklines-work"
    environment = db.process_environment(
        database_url=database_url, broker_url="memory://", data_dir=work_dir / "data"
    )
    db.setup_django(environment)
    from django.db import connection

    from results.partitions import partition_create
    from results.selectors import _sparkline_rows_lateral

    print(f"creating {arguments.database} on {arguments.server_url}", flush=True)
    db.create_database(arguments.server_url, arguments.database)
    try:
        db.migrate(environment)
        ids = seed_monitors(arguments.monitors)
        today = datetime.now(UTC).date()
        rows = 0
        for back in range(arguments.days, 0, -1):  # whole past days, up to yesterday
            day = today - timedelta(days=back)
            day_start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            rows += seed_day(partition_create(day), day_start, ids, arguments.interval)
        connection.close()
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE results_result")
            cursor.execute(
                "SELECT count(*) FROM pg_inherits WHERE inhparent = 'results_result'::regclass"
            )
            partitions = cursor.fetchone()[0]
        ways = {"last days first": _sparkline_rows_lateral, "every partition": every_partition}
        timings: dict[str, list[float]] = {name: [] for name in ways}
        answers = {name: read(ids, POINTS) if name == "last days first" else read(ids)
                   for name, read in ways.items()}  # fmt: skip
        same = answers["last days first"] == answers["every partition"]
        for _ in range(arguments.repeat):
            for name, read in ways.items():
                started = time.perf_counter()
                read(ids, POINTS) if name == "last days first" else read(ids)
                timings[name].append((time.perf_counter() - started) * 1000)
        figures = {name: summarize(values) for name, values in timings.items()}
        print_table(
            f"sparklines of {arguments.monitors} monitors, {rows:,} results in "
            f"{partitions} partitions (ms)",
            ["read", "p50", "p95", "max"],
            [[name, f["p50"], f["p95"], f["max"]] for name, f in figures.items()],
        )
        print(f"same rows both ways: {same}")
        write_json(
            "sparklines",
            {
                **meta,
                "arguments": vars(arguments),
                "rows": rows,
                "partitions": partitions,
                "same_rows": same,
                "milliseconds": figures,
            },
            Path(arguments.out_dir) if arguments.out_dir else None,
        )
        return 0 if same else 1
    finally:
        connection.close()
        if not arguments.keep:
            db.drop_database(arguments.server_url, arguments.database)


if __name__ == "__main__":
    raise SystemExit(main())
