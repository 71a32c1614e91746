"""Backup and restore benchmark: the peak memory (RSS) of ``manage.py backup --full`` and
``manage.py restore`` on PostgreSQL, at two sizes, to show it does not grow with the data.

    .venv/bin/python -m bench.backup                          # 1,000 monitors × 1,000 results
    .venv/bin/python -m bench.backup --results 100            # a quick run

For each size (``--results`` and a tenth of it per monitor): a database of its own on
``DATABASE_URL``'s server (``nanomon_bench_backup``, dropped at the end), migrated, seeded
server-side (monitors, their states, results with outputs one run in two, 48 hour rollups per
monitor); then ``manage.py backup --full --output FILE`` and ``manage.py restore FILE --yes``
into a second fresh database, and ``GET /api/backup_full`` through its view (the streamed body
read and dropped), each a child process whose peak RSS is read from ``wait4`` (the kernel's
``ru_maxrss``). ``manage.py check`` gives the baseline (Django and the apps
loaded). Prints the figures and writes ``bench/out/backup-<UTC>.json``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import psycopg

from bench import db
from bench.common import REPOSITORY, print_table, run_metadata, write_json

MB = 1024 * 1024
SOURCE, TARGET = "nanomon_bench_backup", "nanomon_bench_backup_restored"

SEED = """
INSERT INTO monitors_monitor (name, kind, target, interval, interval_duration, rule, enabled,
    properties, created_at, updated_at, next_run_at, listed_json)
SELECT 'monitor ' || i, 'http', 'https://example.com/' || i, '1m', interval '60 seconds',
    'status == 200', true, '{"timeout": "5s"}'::jsonb, now(), now(), now(), ''
FROM generate_series(1, %(monitors)s) AS i;
INSERT INTO results_monitorstate (monitor_id, last_status, last_run_at, last_value,
    last_message, consecutive_failures)
SELECT id, 0, now(), 12.5, '', 0 FROM monitors_monitor;
INSERT INTO results_result (monitor_id, monitor_name, monitor_target, date, scheduled_for,
    status, value, message, outputs, duration_ms)
SELECT m.id, m.name, m.target, now() - make_interval(mins => r), now() - make_interval(mins => r),
    CASE WHEN r %% 50 = 0 THEN 1 ELSE 0 END, 20 + (r %% 17), CASE WHEN r %% 50 = 0
    THEN 'status 503' ELSE '' END, CASE WHEN r %% 2 = 0 THEN jsonb_build_object('statusCode',
    200, 'bodyLen', 1234, 'certExpiryDays', 41) END, 20.5
FROM monitors_monitor AS m, generate_series(1, %(results)s) AS r;
INSERT INTO results_rollup (monitor_id, resolution, start, runs_ok, runs_error, runs_failed,
    value_count, value_sum, value_min, value_max, sketch)
SELECT m.id, 'hour', date_trunc('hour', now()) - make_interval(hours => h), 59, 1, 0, 60,
    1300.0, 11.0, 38.0, '{"120": 40, "125": 20}'::jsonb
FROM monitors_monitor AS m, generate_series(1, 48) AS h;
"""


# GET /api/backup_full through the view as a superuser, the body read and dropped as a WSGI
# server would send it.
THROUGH_THE_VIEW = """
from django.contrib.auth.models import User
from rest_framework.test import APIRequestFactory, force_authenticate
from backups.views import FullBackupView
request = APIRequestFactory().get("/api/backup_full")
force_authenticate(request, user=User(username="bench", is_superuser=True, is_active=True))
response = FullBackupView.as_view()(request)
assert response.status_code == 200, response.status_code
print(sum(len(chunk) for chunk in response.streaming_content))
"""


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.backup", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--monitors", type=int, default=1000)
    parser.add_argument("--results", type=int, default=1000, help="results per monitor")
    parser.add_argument("--server-url", default=db.DEFAULT_SERVER_URL)
    return parser.parse_args(argv)


def measured(environment: dict[str, str], *args: str) -> tuple[float, float]:
    """Run ``manage.py *args``; its peak RSS (MiB, from wait4) and wall time (s)."""
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=REPOSITORY,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    stderr = process.stderr.read().decode()
    process.stderr.close()
    if process.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{stderr[-3000:]}")
    return usage.ru_maxrss / 1024, time.monotonic() - started  # ru_maxrss is in KiB on Linux


def one_size(server_url: str, monitors: int, results: int, folder: Path) -> dict[str, object]:
    source, target = db.database_url(server_url, SOURCE), db.database_url(server_url, TARGET)
    env_source = db.process_environment(database_url=source, broker_url="", data_dir=folder)
    env_target = db.process_environment(database_url=target, broker_url="", data_dir=folder)
    for name, environment in ((SOURCE, env_source), (TARGET, env_target)):
        db.create_database(server_url, name)
        db.migrate(environment)
    seeding = time.monotonic()
    with psycopg.connect(source, autocommit=True) as connection:
        for statement in filter(str.strip, SEED.split(";")):
            connection.execute(statement, {"monitors": monitors, "results": results})
        connection.execute("VACUUM ANALYZE")
    print(f"seeded {monitors} monitors × {results} results in {time.monotonic() - seeding:.0f}s")
    file = folder / "backup.jsonl"
    baseline, _ = measured(env_source, "check")
    backup_rss, backup_seconds = measured(env_source, "backup", "--full", "--output", str(file))
    view_rss, view_seconds = measured(env_source, "shell", "-c", THROUGH_THE_VIEW)
    restore_rss, restore_seconds = measured(env_target, "restore", str(file), "--yes")
    size = file.stat().st_size
    file.unlink()
    return {
        "monitors": monitors,
        "results": monitors * results,
        "file_mb": round(size / MB, 1),
        "baseline_rss_mb": round(baseline, 1),
        "backup_rss_mb": round(backup_rss, 1),
        "backup_seconds": round(backup_seconds, 1),
        "view_rss_mb": round(view_rss, 1),
        "view_seconds": round(view_seconds, 1),
        "restore_rss_mb": round(restore_rss, 1),
        "restore_seconds": round(restore_seconds, 1),
    }


def main(argv: Sequence[str] | None = None) -> None:
    arguments = parse_arguments(argv)
    runs = []
    try:
        for results in (max(1, arguments.results // 10), arguments.results):
            with tempfile.TemporaryDirectory(prefix="nanomon-bench-backup-") as folder:
                runs.append(
                    one_size(arguments.server_url, arguments.monitors, results, Path(folder))
                )
    finally:
        for name in (SOURCE, TARGET):
            db.drop_database(arguments.server_url, name)
    keys = [
        "results", "file_mb", "baseline_rss_mb", "backup_rss_mb", "backup_seconds",
        "view_rss_mb", "view_seconds", "restore_rss_mb", "restore_seconds",
    ]  # fmt: skip
    print_table(
        "Full backup and restore on PostgreSQL: peak RSS of the process (MiB)",
        keys,
        [[run[key] for key in keys] for run in runs],
    )
    write_json("backup", {**run_metadata(), "runs": runs})


if __name__ == "__main__":
    main()
