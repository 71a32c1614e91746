"""Rollups on SQLite, for real: a subprocess with ``DATABASE_URL=sqlite:///…`` migrates a fresh
database, records batches through ``batch_record`` and checks the rollups (exact counts, a
rebuild equal to them, uptime, series, retention, a rolled-back batch). Run by pytest through
``test_rollups_on_sqlite``; ``python -m tests.results.test_rollups_sqlite`` is the child."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

NOW = datetime(2026, 11, 21, 12, 30, tzinfo=UTC)


def test_rollups_on_sqlite(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "nanomon.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path}/rollups.sqlite3",
        "NANOMON_DATA_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.results.test_rollups_sqlite"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().endswith("sqlite rollups ok"), done.stdout + done.stderr


def child() -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    import monitors.services
    from lib.status import Status
    from loop.batches import batch_record
    from monitors.engine import CheckResult, CheckStatus
    from monitors.scheduling import claim_due_monitors, start_claimed_batch
    from results.history import rollup_series, uptime_by_period
    from results.models import Result, Rollup
    from results.rollups import rollups_delete_old, rollups_rebuild_monitor
    from results.services import RunRecord

    assert connection.vendor == "sqlite"
    call_command("migrate", verbosity=0)
    monitors.services.request_dispatch = lambda: None  # no broker here
    monitor = monitors.services.monitor_create(
        now=NOW, name="web", kind="http", target="http://127.0.0.1:9/", interval="1s",
        enabled=True,
    )  # fmt: skip
    lease = timedelta(seconds=30)

    def record(step: int, status: CheckStatus, value: float, started: datetime) -> None:
        at = NOW + timedelta(seconds=2 * step)
        token, claims = claim_due_monitors(now=at, limit=10, lease=lease)
        assert [c.monitor_id for c in claims] == [monitor.id], claims
        start_claimed_batch(token=token, monitor_ids=[monitor.id], now=at, grace=lease)
        check = CheckResult(
            status=status, value=value, message="", outputs=None, started_at=started,
            duration_seconds=0.01,
        )  # fmt: skip
        batch_record(token=token, runs=[RunRecord(monitor.id, "web", monitor.target, at, check)])

    plan = [
        (CheckStatus.OK, 10.0, NOW - timedelta(minutes=10)),
        (CheckStatus.ERROR, 30.0, NOW - timedelta(minutes=5)),
        (CheckStatus.FAILED, 0.0, NOW - timedelta(hours=3)),
        (CheckStatus.OK, 20.0, NOW - timedelta(days=2)),
    ]
    for step, (status, value, started) in enumerate(plan):
        record(step, status, value, started)

    def rows() -> dict:
        return {
            (r.resolution, r.start): (r.runs_ok, r.runs_error, r.runs_failed, r.value_count,
                                      r.value_sum, r.value_min, r.value_max, r.sketch)
            for r in Rollup.objects.filter(monitor=monitor)
        }  # fmt: skip

    written = rows()
    hour = NOW.replace(minute=0)
    assert written[("hour", hour)][:7] == (1, 1, 0, 2, 40.0, 10.0, 30.0), written
    assert written[("day", hour.replace(hour=0))][:4] == (1, 1, 1, 2), written
    assert sum(r.runs for r in Rollup.objects.filter(resolution="day")) == Result.objects.count()

    # A rolled-back batch changes nothing.
    try:
        with transaction.atomic():
            record(10, CheckStatus.OK, 50.0, NOW)
            raise RuntimeError("rolled back")
    except RuntimeError:
        pass
    assert rows() == written

    rollups_rebuild_monitor(monitor.id, NOW - timedelta(days=5))
    assert rows() == written
    uptime = uptime_by_period([monitor.id], now=NOW)[monitor.id]
    assert uptime["24h"] == 100 / 3, uptime
    assert uptime["7d"] == 50.0, uptime
    series = rollup_series(monitor.id, since=NOW - timedelta(days=7), until=NOW, resolution="day")
    assert [(b.start.day, b.runs, b.value_max) for b in series] == [(19, 1, 20.0), (21, 3, 30.0)]
    assert series[-1].runs_ok == 1 and series[-1].value_p95 == 30.0  # noqa: PT018

    assert rollups_delete_old(NOW + timedelta(days=32), batch=1) == 3  # the hour rows
    assert Rollup.objects.filter(resolution="day").count() == 2
    assert Status.OK == 0
    print("sqlite rollups ok")


if __name__ == "__main__":
    child()
