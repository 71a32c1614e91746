"""Page benchmark: how fast the dashboard renders over 1,000 monitors and a million results.

    .venv/bin/python -m bench.pages                    # seed (or --reuse), then time
    .venv/bin/python -m bench.pages --reuse --requests 50

Seeds a database of its own (``--database``, default ``nanomon_bench_pages``) with
``--monitors`` monitors (ORM bulk create, a state each) and ``--results`` results spread
evenly over them, one a minute going back from now (PostgreSQL ``INSERT … SELECT
generate_series``; about one run in fifty an Error and one in two hundred Failed), then
``VACUUM ANALYZE``. ``--reuse`` keeps a database seeded with the same sizes by an earlier run;
``--drop`` removes it at the end.

Then it renders each page in this process through Django's test client as a signed-in
administrator (no network, no web server: the figures are the view, its queries and the
template), ``--warmup`` untimed requests then ``--requests`` timed ones per page, and prints
p50/p95/p99 with the number of queries per request. The monitors page's p95 must stay under
``--target-ms`` (500 ms: "well under a second"); the exit status says whether it did.
Figures go to ``bench/out/pages-<UTC>.json``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import db
from bench.common import print_table, run_metadata, summarize, write_json
from bench.seeding import (
    insert_results_by_chunk,
    kind_of,
    record_seed,
    seeded_sizes,
    vacuum_analyze,
)

PAGES = [
    ("monitors", "/"),
    ("monitors (live fragment)", "/live/monitors"),
    ("dashboard", "/dashboard"),
    ("monitor detail", "/monitors/{id}"),
    ("results", "/results"),
    ("results: failures", "/results?status=failure"),
]
SEED_TABLE = "bench_pages_seed"
CHUNK_MONITORS = 250


def _target(kind: str, index: int) -> str:
    return {
        "http": f"https://service-{index}.bench.test/health",
        "tcp": f"db-{index}.bench.test:5432",
        "ping": f"host-{index}.bench.test",
        "dns": f"name-{index}.bench.test",
    }[kind]


def seed(monitors: int, results: int) -> dict[str, float]:
    """The monitors with their states, then the results in chunks of monitors."""
    from django.db import connection, transaction

    from monitors.models import Monitor
    from results.models import MonitorState, Result

    started = time.monotonic()
    now = datetime.now(UTC).replace(microsecond=0)
    with transaction.atomic():
        rows = Monitor.objects.bulk_create(
            [
                Monitor(
                    name=f"{kind_of(index)} service {index:04d}",
                    kind=kind_of(index),
                    target=_target(kind_of(index), index),
                    interval="1m",
                    interval_duration=timedelta(minutes=1),
                    rule="status == 200" if kind_of(index) == "http" else "",
                    enabled=index % 97 != 0,
                    properties={"timeout": "5s"},
                    next_run_at=None,  # no worker runs here
                )
                for index in range(monitors)
            ],
            batch_size=2000,
        )
        MonitorState.objects.bulk_create(
            [
                MonitorState(
                    monitor_id=monitor.id,
                    last_status=(0, 0, 0, 0, 0, 0, 0, 0, 1, 2)[index % 10],
                    last_run_at=now - timedelta(seconds=monitor.id % 60),
                    last_value=20.0 + monitor.id % 30,
                    last_message="",
                    last_outputs={"respTime": 21.5, "status": 200.0, "bodyLen": 2.0},
                )
                for index, monitor in enumerate(rows)
            ],
            batch_size=2000,
        )
    monitors_done = time.monotonic()
    per_monitor = max(1, results // monitors)
    ids = sorted(monitor.id for monitor in rows)
    table = connection.ops.quote_name(Result._meta.db_table)
    monitor_table = connection.ops.quote_name(Monitor._meta.db_table)
    statement = f"""
        INSERT INTO {table} (monitor_id, monitor_name, monitor_target, date, scheduled_for,
                             status, value, message, outputs, duration_ms)
        SELECT m.id, m.name, m.target, s.slot + interval '0.004 second', s.slot,
               CASE WHEN (m.id + s.k) %% 200 = 0 THEN 2
                    WHEN (m.id + s.k) %% 50 = 0 THEN 1 ELSE 0 END,
               CASE WHEN (m.id + s.k) %% 200 = 0 THEN 0 ELSE 20 + ((m.id * 7 + s.k) %% 30) END,
               CASE WHEN (m.id + s.k) %% 200 = 0 THEN 'timed out after 5s'
                    WHEN (m.id + s.k) %% 50 = 0 THEN 'Rule violated: status == 200'
                    ELSE '' END,
               CASE WHEN (m.id + s.k) %% 200 = 0 THEN NULL
                    ELSE '{{"respTime": 21.5, "status": 200.0, "bodyLen": 2.0}}'::jsonb END,
               21.5
        FROM {monitor_table} m
        CROSS JOIN LATERAL (
            SELECT k, %s::timestamptz - k * interval '1 minute' - (m.id %% 60) * interval '1 second'
                   AS slot
            FROM generate_series(1, %s) AS k
        ) s
        WHERE m.id BETWEEN %s AND %s
    """  # noqa: S608
    insert_results_by_chunk(
        statement, ids, CHUNK_MONITORS, [now, per_monitor], progress="results", since=monitors_done
    )
    return {
        "monitors_seconds": round(monitors_done - started, 1),
        "results_seconds": round(time.monotonic() - monitors_done, 1),
    }


def measure(warmup: int, requests: int) -> list[dict[str, object]]:
    """Render each page ``warmup + requests`` times; figures of the timed ones."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from monitors.models import Monitor

    users = get_user_model()
    admin, _ = users.objects.get_or_create(
        username="bench-pages", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client(SERVER_NAME="localhost")  # an allowed host, without test-runner set-up
    client.force_login(admin)
    ids = Monitor.objects.order_by("id").values_list("id", flat=True)
    monitor_id = ids[len(ids) // 2]
    figures = []
    for name, path in PAGES:
        url = path.format(id=monitor_id)
        for _ in range(warmup):
            response = client.get(url)
            if response.status_code != 200:
                raise RuntimeError(f"{url} answered {response.status_code}")
        timings = []
        for _ in range(requests):
            started = time.perf_counter()
            response = client.get(url)
            timings.append((time.perf_counter() - started) * 1000)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        figures.append(
            {
                "page": name,
                "path": url,
                "bytes": len(response.content),
                "queries": len(queries.captured_queries),
                **summarize(timings, digits=1),
            }
        )
    return figures


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.pages", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--monitors", type=int, default=1000)
    parser.add_argument("--results", type=int, default=1_000_000)
    parser.add_argument("--database", default="nanomon_bench_pages")
    parser.add_argument("--server-url", default=db.DEFAULT_SERVER_URL, help="PostgreSQL server")
    parser.add_argument("--reuse", action="store_true", help="keep a database seeded alike")
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--target-ms", type=float, default=500.0, help="monitors page p95")
    parser.add_argument("--out-dir", default=None, help="where the JSON goes (bench/out)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    with tempfile.TemporaryDirectory(prefix="nanomon-bench-pages-") as data_dir:
        return run(arguments, Path(data_dir))


def run(arguments: argparse.Namespace, data_dir: Path) -> int:
    """Seed (or reuse) the database, time the pages, print and write the figures; the
    exit status says whether the monitors page met its target."""
    meta = run_metadata()  # the date and load average at the start, as in the other scripts
    database = db.check_name(arguments.database)
    url = db.database_url(arguments.server_url, database)
    environment = db.process_environment(
        database_url=url, broker_url="memory://", data_dir=data_dir
    )
    reused = arguments.reuse and db.database_exists(arguments.server_url, database)
    if not reused:
        db.create_database(arguments.server_url, database)
    db.migrate(environment)
    db.setup_django(environment)
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)  # hashed names, as deployed
    wanted = (
        arguments.monitors,
        max(1, arguments.results // arguments.monitors) * arguments.monitors,
    )
    seeding: dict[str, object] = {"reused": False}
    if reused and seeded_sizes(SEED_TABLE) == wanted:
        seeding["reused"] = True
        print(f"reusing {database}: {wanted[0]} monitors, {wanted[1]} results", flush=True)
    else:
        if reused:
            from django.db import connection

            connection.close()
            db.create_database(arguments.server_url, database)
            db.migrate(environment)
        print(f"seeding {database}: {wanted[0]} monitors, {wanted[1]} results", flush=True)
        seeding.update(seed(*wanted))
        seeding["vacuum_analyze_seconds"] = vacuum_analyze(url)
        record_seed(SEED_TABLE, *wanted)
    figures = measure(arguments.warmup, arguments.requests)
    table = print_table(
        f"Pages over {wanted[0]:,} monitors and {wanted[1]:,} results "
        f"({arguments.requests} requests each, Django test client, ms)",
        ["page", "p50", "p95", "p99", "max", "queries", "KiB"],
        [
            [row["page"], row["p50"], row["p95"], row["p99"], row["max"], row["queries"],
             round(row["bytes"] / 1024, 1)]
            for row in figures
        ],
    )  # fmt: skip
    monitors_p95 = figures[0]["p95"]
    passed = monitors_p95 is not None and monitors_p95 < arguments.target_ms
    print(
        f"monitors page p95 {monitors_p95} ms: "
        f"{'under' if passed else 'OVER'} the {arguments.target_ms:g} ms target"
    )
    write_json(
        "pages",
        {
            "benchmark": "pages",
            **meta,
            "database": database,
            "monitors": wanted[0],
            "results": wanted[1],
            "seeding": seeding,
            "warmup": arguments.warmup,
            "requests": arguments.requests,
            "target_ms": arguments.target_ms,
            "passed": passed,
            "pages": figures,
            "table": table,
        },
        out_dir=Path(arguments.out_dir) if arguments.out_dir else None,
    )
    if arguments.drop:
        from django.db import connection

        connection.close()
        db.drop_database(arguments.server_url, database)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
