"""Read-path benchmark: API routes, pages and /metrics over a big database.

    .venv/bin/python -m bench.read_path --monitors 10000 --results 10000000 --reuse

Seeds a database of its own (``--database``, default ``nanomon_bench_read``) with
``--monitors`` monitors (ORM bulk create) and ``--results`` results spread evenly over them,
one per minute going back in time (PostgreSQL ``INSERT … SELECT generate_series``, in chunks
of monitors, foreign-key triggers off while seeding), then ``VACUUM ANALYZE``. ``--reuse``
keeps a database seeded with the same sizes by an earlier run (seeding 10 million rows takes
minutes); without it the database is seeded afresh, and ``--drop`` removes it at the end.

Then it starts gunicorn (2 sync workers, ``PROMETHEUS_ENABLE=true``) on a free loopback port
and times each route with a bounded sequential loop (``--warmup`` untimed requests, then
``--requests`` timed ones, a random monitor for per-monitor routes): p50/p95/p99 of the time
to the last byte, as a signed-in administrator (API token; a session cookie for pages). A
route answering 404, or redirecting to the admin (no page there yet), is skipped with a note,
so the script keeps working as pages arrive. Page paths are flags (``--page name=/path``;
``{id}`` is replaced by a monitor id).
"""

from __future__ import annotations

import argparse
import http.client
import random
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import db
from bench.common import (
    OUT_DIR,
    REPOSITORY,
    free_port,
    load_average,
    print_table,
    run_metadata,
    stop_process,
    summarize,
    wait_for_quiet_machine,
    write_json,
)
from bench.seeding import (
    insert_results_by_chunk,
    kind_of,
    record_seed,
    seeded_sizes,
    vacuum_analyze,
)
from bench.targets import loopback_address

# (name, path, kind): kind "api" has the 100 ms p95 target, "page" 250 ms, "metrics" none.
API_ROUTES = [
    ("api_monitors", "/api/monitors", "api"),
    ("api_monitor_results", "/api/monitors/{id}/results?max=100", "api"),
    ("api_results", "/api/results", "api"),
]
DEFAULT_PAGES = [
    ("page_monitors", "/monitors"),
    ("page_dashboard", "/dashboard"),
    ("page_monitor_detail", "/monitors/{id}"),
    ("page_results", "/results"),
]
METRICS_ROUTE = ("metrics", "/metrics", "metrics")
TARGET_P95_MS = {"api": 100.0, "page": 250.0}
SEED_TABLE = "bench_seed"
CHUNK_MONITORS = 500


# --- Seeding -------------------------------------------------------------------------------


def target_for(kind: str, index: int) -> str:
    host = loopback_address(index, third_octet=4)  # data only: nothing runs these monitors
    return {
        "http": f"http://{host}:8080/health",
        "tcp": f"{host}:5432",
        "ping": host,
        "dns": f"host{index}.bench.test",
    }[kind]


def seed(monitors: int, results: int) -> dict:
    """Create the monitors, their states and ``results`` results; returns timings."""
    from django.db import connection, transaction

    from monitors.models import Monitor
    from results.models import MonitorState, Result

    started = time.monotonic()
    now = datetime.now(UTC).replace(microsecond=0)
    with transaction.atomic():
        rows = [
            Monitor(
                name=f"bench {kind_of(index)} {index:05d}",
                kind=kind_of(index),
                target=target_for(kind_of(index), index),
                interval="1m",
                interval_duration=timedelta(minutes=1),
                rule="status == 200" if kind_of(index) == "http" else "",
                enabled=True,
                properties={"timeout": "5s"},
                next_run_at=None,  # nothing runs them: no worker is started here
            )
            for index in range(monitors)
        ]
        Monitor.objects.bulk_create(rows, batch_size=2000)
        MonitorState.objects.bulk_create(
            [
                MonitorState(
                    monitor_id=monitor.id,
                    last_status=0,
                    last_run_at=now,
                    last_value=21.5,
                    last_outputs={"respTime": 21.5, "status": 200.0, "bodyLen": 2.0},
                )
                for monitor in rows
            ],
            batch_size=2000,
        )
    monitors_done = time.monotonic()
    per_monitor, extra = divmod(results, monitors)
    ids = sorted(monitor.id for monitor in rows)
    table = connection.ops.quote_name(Result._meta.db_table)
    monitor_table = connection.ops.quote_name(Monitor._meta.db_table)
    # One result a minute per monitor going back from now, at the monitor's own second; one
    # run in fifty is an Error. The first ``extra`` monitors get one more result.
    statement = f"""
        INSERT INTO {table} (monitor_id, monitor_name, monitor_target, date, scheduled_for,
                             status, value, message, outputs, duration_ms)
        SELECT m.id, m.name, m.target, s.slot + interval '0.004 second', s.slot,
               CASE WHEN (m.id + s.k) %% 50 = 0 THEN 1 ELSE 0 END,
               20 + ((m.id * 7 + s.k) %% 30),
               CASE WHEN (m.id + s.k) %% 50 = 0 THEN 'Rule violated: status == 200' ELSE '' END,
               '{{"respTime": 21.5, "status": 200.0, "bodyLen": 2.0}}'::jsonb,
               21.5
        FROM {monitor_table} m
        CROSS JOIN LATERAL (
            SELECT k, %s::timestamptz - k * interval '1 minute' - (m.id %% 60) * interval '1 second'
                   AS slot
            FROM generate_series(1, %s + CASE WHEN m.id <= %s THEN 1 ELSE 0 END) AS k
        ) s
        WHERE m.id BETWEEN %s AND %s
    """  # noqa: S608
    last_extra_id = ids[extra - 1] if extra else 0
    insert_results_by_chunk(
        statement, ids, CHUNK_MONITORS, [now, per_monitor, last_extra_id],
        progress="seeded results", since=monitors_done,
    )  # fmt: skip
    results_done = time.monotonic()
    connection.close()
    return {
        "monitors_seconds": round(monitors_done - started, 1),
        "results_seconds": round(results_done - monitors_done, 1),
    }


def credentials() -> tuple[str, str, list[int]]:
    """(API token, session id, monitor ids) for a bench administrator."""
    from django.contrib.auth import get_user_model
    from django.test import Client
    from rest_framework.authtoken.models import Token

    from monitors.models import Monitor

    users = get_user_model()
    user = users.objects.filter(username="bench-admin").first()
    if user is None:
        user = users.objects.create_superuser("bench-admin", "", "bench-admin-password")
    token, _ = Token.objects.get_or_create(user=user)
    client = Client()
    client.force_login(user)  # a session in the database, as a browser's sign-in leaves
    ids = list(Monitor.objects.values_list("id", flat=True))
    return token.key, client.session.session_key, ids


# --- Timing --------------------------------------------------------------------------------


def request(port: int, path: str, headers: dict[str, str]) -> tuple[int, int, float, str]:
    """(status, body bytes, milliseconds to the last byte, Location header)."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        elapsed = (time.perf_counter() - started) * 1000.0
        return response.status, len(body), elapsed, response.getheader("Location") or ""
    finally:
        connection.close()


def time_route(port, path_template, headers, ids, warmup, count, rng) -> dict:
    def path() -> str:
        return path_template.replace("{id}", str(rng.choice(ids))) if ids else path_template

    status, size, _, location = request(port, path(), headers)
    if status == 404:
        return {"skipped": "404: this route does not exist yet"}
    if 300 <= status < 400 and "/admin" in location:
        return {"skipped": f"{status} to {location}: no page here yet"}
    for _ in range(warmup):
        request(port, path(), headers)
    timings, statuses, sizes = [], {}, []
    for _ in range(count):
        status, size, elapsed, _ = request(port, path(), headers)
        timings.append(elapsed)
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        sizes.append(size)
    return {
        "statuses": statuses,
        "ms": summarize(timings, digits=2),
        "mean_bytes": round(sum(sizes) / len(sizes)) if sizes else 0,
    }


def start_web(environment: dict[str, str], port: int, log_path: Path) -> subprocess.Popen:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log:
        web = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "nanomon.wsgi", "--bind", f"127.0.0.1:{port}",
             "--workers", "2", "--timeout", "120", "--log-level", "warning",
             # gunicorn.conf.py now says gthread; the figures were measured with sync workers.
             "--worker-class", "sync"],
            cwd=REPOSITORY, env=environment, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if web.poll() is not None:
            raise RuntimeError(f"gunicorn exited; see {log_path}")
        try:
            request(port, "/api/health", {})
            return web
        except OSError:
            time.sleep(0.2)
    web.kill()
    raise RuntimeError("gunicorn did not answer within 60s")


# --- Main --------------------------------------------------------------------------------------


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.read_path", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--monitors", type=int, default=10000)
    parser.add_argument("--results", type=int, default=10_000_000)
    parser.add_argument("--database", default="nanomon_bench_read")
    parser.add_argument("--server-url", default=db.DEFAULT_SERVER_URL)
    parser.add_argument("--reuse", action="store_true", help="keep an equally seeded database")
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per route")
    parser.add_argument("--warmup", type=int, default=10, help="untimed requests per route")
    parser.add_argument(
        "--page", action="append", default=[], metavar="NAME=PATH",
        help="a page to time (repeatable; replaces the default pages)",
    )  # fmt: skip
    parser.add_argument(
        "--only", action="append", default=[], metavar="NAME",
        help="time only this route (repeatable; names as in the table: api_monitors, metrics…)",
    )  # fmt: skip
    parser.add_argument("--max-load", type=float, default=1.5)
    parser.add_argument("--max-wait", type=float, default=1200)
    parser.add_argument("--seed", type=int, default=9, help="random monitor choice")
    parser.add_argument("--out-dir", default=None)
    arguments = parser.parse_args(argv)
    db.check_name(arguments.database)
    if arguments.monitors < 1 or arguments.results < 0:
        parser.error("--monitors must be at least 1 and --results at least 0")
    pages = DEFAULT_PAGES
    if arguments.page:
        pages = []
        for item in arguments.page:
            name, _, path = item.partition("=")
            if not path.startswith("/"):
                parser.error(f"--page wants NAME=/path, got {item!r}")
            pages.append((name, path))
    arguments.routes = [
        *API_ROUTES,
        *((name, path, "page") for name, path in pages),
        METRICS_ROUTE,
    ]
    if arguments.only:
        unknown = set(arguments.only) - {name for name, _, _ in arguments.routes}
        if unknown:
            parser.error(f"--only: no route named {', '.join(sorted(unknown))}")
        arguments.routes = [route for route in arguments.routes if route[0] in arguments.only]
    return arguments


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    meta = run_metadata()
    database_url = db.database_url(arguments.server_url, arguments.database)
    work_dir = (Path(arguments.out_dir) if arguments.out_dir else OUT_DIR) / "read-work"
    work_dir = work_dir / arguments.database
    environment = db.process_environment(
        database_url=database_url,
        broker_url="redis://127.0.0.1:6379/13",
        data_dir=work_dir / "data",
    )
    environment["PROMETHEUS_ENABLE"] = "true"
    db.setup_django(environment)
    from django.db import connections

    seeding: dict = {"reused": False}
    wanted = (arguments.monitors, arguments.results)
    reusable = arguments.reuse and db.database_exists(arguments.server_url, arguments.database)
    if reusable:
        db.migrate(environment)  # a newer checkout may have added migrations
        reusable = seeded_sizes(SEED_TABLE) == wanted
    if reusable:
        print(f"reusing {arguments.database}: {wanted[0]} monitors, {wanted[1]} results")
        seeding["reused"] = True
    else:
        print(
            f"seeding {arguments.database}: {wanted[0]} monitors, {wanted[1]} results", flush=True
        )
        connections.close_all()
        db.create_database(arguments.server_url, arguments.database)
        db.migrate(environment)
        seeding.update(seed(*wanted))
        seeding["vacuum_analyze_seconds"] = vacuum_analyze(database_url)
        record_seed(SEED_TABLE, *wanted)
        print(f"seeded: {seeding}", flush=True)
    token, session_key, ids = credentials()
    connections.close_all()

    meta["load_gate"] = wait_for_quiet_machine(arguments.max_load, arguments.max_wait)
    db.collect_static(environment)
    port = free_port()
    web = start_web(environment, port, work_dir / "web.log")
    routes: dict[str, dict] = {}
    rng = random.Random(arguments.seed)
    try:
        for name, path, kind in arguments.routes:
            headers = (
                {"Authorization": f"Token {token}", "Accept": "application/json"}
                if kind == "api"
                else {"Cookie": f"sessionid={session_key}"}
            )
            figures = time_route(
                port, path, headers, ids, arguments.warmup, arguments.requests, rng
            )
            figures.update({"path": path, "kind": kind, "target_p95_ms": TARGET_P95_MS.get(kind)})
            if "ms" in figures and figures["target_p95_ms"] is not None:
                figures["target_met"] = (
                    set(figures["statuses"]) == {"200"}
                    and figures["ms"]["p95"] <= figures["target_p95_ms"]
                )
            if "skipped" in figures:
                print(f"note: {name} ({path}) skipped: {figures['skipped']}")
            routes[name] = figures
    finally:
        stop_process(web, timeout=30)

    rows = []
    for name, figures in routes.items():
        if "skipped" in figures:
            rows.append([name, figures["path"], "skipped", None, None, None, None, None, None])
            continue
        rows.append(
            [name, figures["path"], ",".join(figures["statuses"]), figures["ms"]["p50"],
             figures["ms"]["p95"], figures["ms"]["p99"], figures["mean_bytes"],
             figures["target_p95_ms"],
             None if "target_met" not in figures else ("yes" if figures["target_met"] else "NO")]
        )  # fmt: skip
    print()
    table = print_table(
        f"read path: {arguments.monitors} monitors, {arguments.results} results, "
        f"{arguments.requests} sequential requests per route (ms to the last byte)",
        ["route", "path", "status", "p50 ms", "p95 ms", "p99 ms", "bytes", "p95 target",
         "met"],
        rows,
    )  # fmt: skip
    if arguments.drop:
        db.drop_database(arguments.server_url, arguments.database)
    payload = {
        "benchmark": "read_path",
        **meta,
        "load_average_at_end": load_average(),
        "parameters": {
            "monitors": arguments.monitors,
            "results": arguments.results,
            "requests": arguments.requests,
            "warmup": arguments.warmup,
            "database": arguments.database,
            "web": "gunicorn, 2 sync workers, PROMETHEUS_ENABLE=true",
        },
        "seeding": seeding,
        "routes": routes,
        "table": table,
    }
    write_json("read_path", payload, out_dir=Path(arguments.out_dir) if arguments.out_dir else None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
