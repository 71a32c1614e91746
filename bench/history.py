"""History benchmark: uptime and chart-series queries over a year of rollups.

    .venv/bin/python -m bench.history --monitors 10000

In a PostgreSQL database of its own (``--database``, default ``nanomon_bench_history``,
dropped at the end unless ``--keep-db``): ``--monitors`` http monitors; for each, day rollups
for the last ``--days`` days (365) and hour rollups for the last ``--hourly-days`` days (31,
ROLLUP_HOURLY_RETENTION's default), every row with a realistic sketch (the values 20–49 ms
of a 60 s monitor: ~10 buckets); and ``--raw-days`` days of raw results at 60 s for every
monitor (1 day = 14.4 M rows at 10,000 monitors; 31 days would be 446 M rows, ~60 GB here),
all seeded in bulk (``INSERT … SELECT generate_series``) and ``VACUUM ANALYZE``-d. Then, in
this process through the selectors the pages and the API call (``results.history``),
``--repeat`` times each on random monitors, p50/p95/max in ms:

* uptime of one monitor over 24h, 7d, 30d, 90d and 365d (``uptime_by_period``, one query);
* uptime of a page of 50 monitors, all five periods (one query);
* the chart series of one monitor: 24 h hourly and 365 d daily (``rollup_series``).

And the rollups' disk: ``pg_total_relation_size`` of the rollup table (rows and indexes) per
monitor, i.e. a year of day rows plus 31 days of hour rows, the steady state with the default
retention. Figures printed and written as JSON to ``bench/out/``.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import db
from bench.common import (
    OUT_DIR,
    print_table,
    run_metadata,
    summarize,
    wait_for_quiet_machine,
    write_json,
)
from bench.seeding import insert_results_by_chunk, vacuum_analyze

CHUNK_MONITORS = 1000
PAGE = 50


def sketch_literal(per_value: int) -> str:
    """The sketch of the values 20–49 ms, each ``per_value`` times (a day: 48, an hour: 2)."""
    from results.sketch import sketch_of

    sketch = sketch_of([float(v) for v in range(20, 50) for _ in range(per_value)])
    return json.dumps(sketch)


def seed(monitors: int, days: int, hourly_days: int, raw_days: int, now: datetime) -> dict:
    from django.db import connection, transaction

    from monitors.models import Monitor
    from results.models import Result, Rollup

    timings: dict[str, float] = {}
    started = time.monotonic()
    with transaction.atomic():
        Monitor.objects.bulk_create(
            [
                Monitor(
                    name=f"bench http {index:05d}",
                    kind="http",
                    target=f"http://127.0.4.{index % 250 + 1}:8080/health{index}",
                    interval="1m",
                    interval_duration=timedelta(minutes=1),
                    enabled=True,
                    properties={},
                    next_run_at=None,  # nothing runs them
                )
                for index in range(monitors)
            ],
            batch_size=2000,
        )
    ids = sorted(Monitor.objects.values_list("pk", flat=True))
    timings["monitors_seconds"] = round(time.monotonic() - started, 1)
    rollup = connection.ops.quote_name(Rollup._meta.db_table)
    monitor_table = connection.ops.quote_name(Monitor._meta.db_table)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    hour = now.replace(minute=0, second=0, microsecond=0)
    # One run in 288 fails and one in 96 is an Error, varying by monitor and bucket.
    statement = f"""
        INSERT INTO {rollup} (monitor_id, resolution, start, runs_ok, runs_error, runs_failed,
                              value_count, value_sum, value_min, value_max, sketch)
        SELECT m.id, %s, s.start,
               %s - ((m.id + s.k) %% 7) - ((m.id + s.k) %% 3),
               (m.id + s.k) %% 7, (m.id + s.k) %% 3,
               %s - ((m.id + s.k) %% 3), (%s - ((m.id + s.k) %% 3)) * 34.5, 20, 49,
               %s::jsonb
        FROM {monitor_table} m
        CROSS JOIN LATERAL (
            SELECT k, %s::timestamptz - k * %s::interval AS start
            FROM generate_series(0, %s - 1) AS k
        ) s
        WHERE m.id BETWEEN %s AND %s
    """  # noqa: S608
    for resolution, count, step, runs, latest, per_value in (
        ("day", days, "1 day", 1440, today, 48),
        ("hour", hourly_days * 24, "1 hour", 60, hour, 2),
    ):
        begun = time.monotonic()
        insert_results_by_chunk(
            statement, ids, CHUNK_MONITORS,
            [resolution, runs, runs, runs, sketch_literal(per_value), latest, step, count],
            progress=f"seeded {count} {resolution} rollups each", since=begun,
        )  # fmt: skip
        timings[f"{resolution}_rollups_seconds"] = round(time.monotonic() - begun, 1)
    raw_rows = 0
    if raw_days:
        table = connection.ops.quote_name(Result._meta.db_table)
        statement = f"""
            INSERT INTO {table} (monitor_id, monitor_name, monitor_target, date, scheduled_for,
                                 status, value, message, outputs, duration_ms)
            SELECT m.id, m.name, m.target, s.slot, s.slot,
                   CASE WHEN (m.id + s.k) %% 96 = 0 THEN 1 ELSE 0 END,
                   20 + ((m.id * 7 + s.k) %% 30), '',
                   '{{"respTime": 21.5, "status": 200.0}}'::jsonb, 21.5
            FROM {monitor_table} m
            CROSS JOIN LATERAL (
                SELECT k, %s::timestamptz - k * interval '1 minute'
                          - (m.id %% 60) * interval '1 second' AS slot
                FROM generate_series(1, %s) AS k
            ) s
            WHERE m.id BETWEEN %s AND %s
        """  # noqa: S608
        begun = time.monotonic()
        insert_results_by_chunk(
            statement, ids, CHUNK_MONITORS, [now, raw_days * 1440],
            progress=f"seeded {raw_days} day(s) of raw results", since=begun,
        )  # fmt: skip
        raw_rows = raw_days * 1440 * monitors
        timings["raw_results_seconds"] = round(time.monotonic() - begun, 1)
    timings["raw_results"] = raw_rows
    return timings


def measure(name: str, call: Callable[[], object], repeat: int) -> dict:
    for _ in range(5):  # warm the connection and the caches of the first pages
        call()
    times = []
    for _ in range(repeat):
        begun = time.perf_counter()
        call()
        times.append((time.perf_counter() - begun) * 1000)
    return {"name": name, "ms": summarize(times)}


def disk(monitors: int) -> dict:
    from django.db import connection

    from results.models import Rollup

    table = Rollup._meta.db_table
    rows = Rollup.objects.count()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_total_relation_size(%s), pg_relation_size(%s)", [table, table])
        total, heap = cursor.fetchone()
    return {
        "rollup_rows": rows,
        "rollup_total_bytes": total,
        "rollup_heap_bytes": heap,
        "bytes_per_row": round(total / rows, 1) if rows else None,
        "bytes_per_monitor": round(total / monitors),
    }


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--monitors", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365, help="day rollups per monitor")
    parser.add_argument("--hourly-days", type=int, default=31, help="days of hour rollups")
    parser.add_argument("--raw-days", type=int, default=1, help="days of raw results at 60 s")
    parser.add_argument("--repeat", type=int, default=200, help="timed calls per query")
    parser.add_argument("--database", default="nanomon_bench_history")
    parser.add_argument("--server-url", default=db.DEFAULT_SERVER_URL)
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--max-load", type=float, default=1.5, help="wait below this load")
    parser.add_argument("--max-wait", type=float, default=600, help="seconds to wait (0: none)")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--out-dir", default=None)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    meta = run_metadata()
    database_url = db.database_url(arguments.server_url, arguments.database)
    environment = db.process_environment(
        database_url=database_url,
        broker_url="redis://127.0.0.1:6379/13",
        data_dir=(Path(arguments.out_dir) if arguments.out_dir else OUT_DIR) / "history-work",
    )
    db.setup_django(environment)
    from django.db import connections

    from results.history import rollup_series, uptime_by_period

    now = datetime.now(UTC)
    print(f"seeding {arguments.database}: {arguments.monitors} monitors", flush=True)
    db.create_database(arguments.server_url, arguments.database)
    try:
        db.migrate(environment)
        seeding = seed(
            arguments.monitors, arguments.days, arguments.hourly_days, arguments.raw_days, now
        )
        seeding["vacuum_analyze_seconds"] = vacuum_analyze(database_url)
        print(f"seeded: {seeding}", flush=True)
        meta["load_gate"] = wait_for_quiet_machine(arguments.max_load, arguments.max_wait)
        from monitors.models import Monitor

        ids = list(Monitor.objects.values_list("pk", flat=True))
        rng = random.Random(arguments.seed)
        queries = [
            measure("uptime, 1 monitor, 5 periods",
                    lambda: uptime_by_period([rng.choice(ids)], now=now), arguments.repeat),
            measure(f"uptime, page of {PAGE}, 5 periods",
                    lambda: uptime_by_period(rng.sample(ids, PAGE), now=now), arguments.repeat),
            measure("series 24 h hourly",
                    lambda: rollup_series(rng.choice(ids), since=now - timedelta(hours=24),
                                          until=now, resolution="hour"), arguments.repeat),
            measure("series 365 d daily",
                    lambda: rollup_series(rng.choice(ids), since=now - timedelta(days=365),
                                          until=now, resolution="day"), arguments.repeat),
        ]  # fmt: skip
        sample = rollup_series(ids[0], since=now - timedelta(days=365), until=now, resolution="day")
        assert len(sample) == arguments.days, len(sample)
        usage = disk(arguments.monitors)
        connections.close_all()
    finally:
        if not arguments.keep_db:
            connections.close_all()
            db.drop_database(arguments.server_url, arguments.database)
    print()
    print_table(
        f"history: {arguments.monitors} monitors, {arguments.days} d of day rollups, "
        f"{arguments.hourly_days} d of hour rollups, {seeding['raw_results']} raw results; "
        f"{arguments.repeat} calls each (ms, in process)",
        ["query", "p50 ms", "p95 ms", "max ms"],
        [[q["name"], q["ms"]["p50"], q["ms"]["p95"], q["ms"]["max"]] for q in queries],
    )
    per_year = usage["bytes_per_monitor"]
    print(
        f"\nrollups on disk: {usage['rollup_rows']} rows, {usage['rollup_total_bytes'] / 1e9:.2f}"
        f" GB with indexes, {usage['bytes_per_row']} B per row, {per_year / 1024:.1f} KiB per "
        f"monitor for a year of day rows + {arguments.hourly_days} days of hour rows"
    )
    write_json(
        "history",
        {**meta, "arguments": vars(arguments), "seeding": seeding, "queries": queries,
         "disk": usage},
        out_dir=Path(arguments.out_dir) if arguments.out_dir else None,
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
