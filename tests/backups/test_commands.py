"""``manage.py backup`` and ``restore``, in real processes: a full backup taken on SQLite
restores on PostgreSQL (a private database on the test server, dropped afterwards) and back
on a fresh SQLite, with the same records; a refused file changes nothing."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

from backups.progress import Progress
from tests.support.isolation import postgres_url

ROOT = Path(settings.BASE_DIR)

SEED = """
import json
from datetime import UTC, datetime, timedelta
from alerts.configuration import alert_policy_set, channel_create
from alerts.maintenance import window_save
from alerts.models import MaintenanceWindow
from backups.records import rollup_model
from monitors.services import monitor_create
from results.models import MonitorState, Result
now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
web = monitor_create(name="web ü", kind="http", target="https://u:pw@example.com/?token=t0k",
    interval="30s", properties={"headers": json.dumps({"Authorization": "Bearer x"})})
dns = monitor_create(name="dns", kind="dns", target="example.com", interval="5m", enabled=False)
hook = channel_create(name="hook", kind="webhook", config={"url": "https://hooks.example/p4th"})
alert_policy_set(web, fail_threshold=2, reminder_minutes=30, use_default_channels=False,
    channels=[hook])
Result.objects.bulk_create([Result(monitor=monitor, monitor_name=monitor.name,
    monitor_target=monitor.target, date=now - timedelta(seconds=30 * i),
    scheduled_for=now - timedelta(seconds=30 * i, microseconds=123), status=i % 3,
    value=i * 0.1, message="é" * (i % 4), outputs={"statusCode": 200, "i": i} if i % 2 else None,
    duration_ms=1.5) for monitor in (web, dns) for i in range(500)])
MonitorState.objects.filter(monitor=web).update(last_status=1, last_run_at=now, last_value=2.5,
    last_message="boom", consecutive_failures=4)
if rollup_model() is not None:
    rollup_model().objects.create(monitor=web, resolution="day", start=now.replace(hour=0),
        runs_ok=3, value_count=3, value_sum=9.0, value_min=1.0, value_max=5.0)
window_save(MaintenanceWindow(name="deploy ü", starts_at=now, ends_at=now + timedelta(hours=1)),
    monitors=[web.pk, dns.pk])
window_save(MaintenanceWindow(name="nightly", schedule="weekly", weekdays=[1, 5],
    start_time="02:30", duration_minutes=45, time_zone="Europe/Berlin", tags=["db"]))
"""


def _env(tmp_path: Path, database_url: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "nanomon.settings",
        "DATABASE_URL": database_url,
        "NANOMON_DATA_DIR": str(tmp_path),
        "CELERY_BROKER_URL": "",  # the embedded broker, in tmp_path: nothing in the shared one
    }
    env.pop("NANOMON_BROKER_KEY_PREFIX", None)
    return env


def manage(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    if check:
        assert done.returncode == 0, done.stderr[-3000:]
    return done


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture
def private_postgres():
    """A database of its own on the test server, dropped afterwards."""
    server = dict(settings.DATABASES["default"])
    name = f"nanomon_backup_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    conninfo = postgres_url({**server, "NAME": "postgres"})
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_url({**server, "NAME": name})
    finally:
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_full_backup_moves_from_sqlite_to_postgresql_and_back(tmp_path, private_postgres):
    first = _env(tmp_path / "a", f"sqlite:///{tmp_path}/a.sqlite3")
    postgres = _env(tmp_path / "b", private_postgres)
    second = _env(tmp_path / "c", f"sqlite:///{tmp_path}/c.sqlite3")
    for env in (first, postgres, second):
        Path(env["NANOMON_DATA_DIR"]).mkdir()
        manage(env, "migrate", "-v", "0")
    manage(first, "shell", "-c", SEED)

    # Secrets sealed as stored: another installation (another key) refuses them, saying why.
    manage(first, "backup", "--full", "--output", str(tmp_path / "sealed.jsonl"))
    refused = manage(postgres, "restore", str(tmp_path / "sealed.jsonl"), "--yes", check=False)
    assert refused.returncode == 1
    assert "line 3: channel record: field 'config.url' is sealed with a key this NanoMon does " in (
        refused.stderr
    )
    assert "--with-secrets" in refused.stderr
    # In plaintext (an admin's choice) they move anywhere.
    plain = ("--full", "--with-secrets")
    manage(first, "backup", *plain, "--output", str(tmp_path / "sqlite.jsonl"))
    restored = manage(postgres, "restore", str(tmp_path / "sqlite.jsonl"), "--yes")
    manage(postgres, "backup", *plain, "--output", str(tmp_path / "postgres.jsonl"))
    manage(second, "restore", str(tmp_path / "postgres.jsonl"), "--yes")
    again = manage(second, "backup", *plain, "--output", "-")

    from_sqlite = records(tmp_path / "sqlite.jsonl")
    from_postgres = records(tmp_path / "postgres.jsonl")
    back = [json.loads(line) for line in again.stdout.splitlines()]
    assert from_sqlite[0]["database"] == "sqlite"
    assert from_postgres[0]["database"] == "postgresql"
    assert from_sqlite[-1]["counts"]["result"] == 1000
    assert from_sqlite[-1]["counts"]["window"] == 2
    assert from_postgres[1:] == from_sqlite[1:]
    assert back[1:] == from_sqlite[1:]
    summary = restored.stderr.strip().splitlines()[-1]
    assert re.fullmatch(
        r"full backup restored from \S+: \d+ records restored \(.*1000 result.*", summary
    )


def test_a_refused_restore_names_the_line_and_changes_nothing(tmp_path):
    env = _env(tmp_path / "data", f"sqlite:///{tmp_path}/db.sqlite3")
    Path(env["NANOMON_DATA_DIR"]).mkdir()
    manage(env, "migrate", "-v", "0")
    manage(env, "shell", "-c", SEED)
    manage(env, "backup", "--full", "--output", str(tmp_path / "good.jsonl"))
    good = (tmp_path / "good.jsonl").read_bytes()
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(good[: len(good) // 2])
    cut_line = cut.read_bytes().count(b"\n") + 1

    refused = manage(env, "restore", str(cut), "--yes", check=False)
    unconfirmed = manage(env, "restore", str(tmp_path / "good.jsonl"), check=False)
    manage(env, "backup", "--full", "--output", str(tmp_path / "after.jsonl"))

    assert refused.returncode == 1
    assert f"line {cut_line}: the line is not JSON" in refused.stderr
    assert "nothing was changed" in refused.stderr
    assert unconfirmed.returncode == 1
    assert "--yes" in unconfirmed.stderr
    assert records(tmp_path / "after.jsonl")[1:] == records(tmp_path / "good.jsonl")[1:]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_counts_records_on_a_terminal_and_ends_with_a_summary():
    from django.core.management.base import OutputWrapper

    terminal = _Terminal()
    progress = Progress(OutputWrapper(terminal), "written", interval=0)
    progress.update({"monitor": 2, "result": 10})
    progress.done("full backup written to x")

    text = terminal.getvalue()
    assert "\r\033[K12 records written (2 monitor, 10 result)" in text
    summary = (
        r"full backup written to x: 12 records written \(2 monitor, 10 result\) in \d+\.\d s\n"
    )
    assert re.search(summary + "$", text)
