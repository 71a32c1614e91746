"""Results retention on SQLite (the embedded shape), in a subprocess on a database file of its
own: the partitioning migration does nothing there, and expired results go in bounded batches,
one DELETE statement (one short write transaction) each."""

from __future__ import annotations

import json

import pytest

from tests.support.sqlite import manage, sqlite_environment

SEED_AND_RUN = """
import json
from datetime import timedelta
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from monitors.services import monitor_create
from results.models import Result
from results.partitions import results_retention

now = timezone.now()
monitor = monitor_create(now=now, name="m", kind="http", target="http://127.0.0.1:9/",
                         interval="60s", enabled=True)
def result(when):
    return Result(monitor=monitor, monitor_name="m", monitor_target="t", date=when,
                  scheduled_for=when, status=0)
expired = [now - timedelta(days=40, minutes=n) for n in range(12)]
recent = [now - timedelta(days=30), now - timedelta(hours=1), now]
made = Result.objects.bulk_create([result(when) for when in expired + recent])
dry = results_retention(retention_seconds=31 * 86400, dry_run=True, batch_size=5)
with CaptureQueriesContext(connection) as queries:
    report = results_retention(retention_seconds=31 * 86400, batch_size=5)
with connection.cursor() as cursor:
    cursor.execute("SELECT sql FROM sqlite_master WHERE name = 'results_result'")
    table_sql = cursor.fetchone()[0]
print(json.dumps({
    "ids": all(r.pk for r in made),
    "dry": [dry.deleted, dry.batches],
    "report": [report.deleted, report.batches, report.partitioned, report.dropped],
    "deletes": [q["sql"] for q in queries.captured_queries if q["sql"].startswith("DELETE")],
    "left": sorted(r.date.isoformat() for r in Result.objects.all()),
    "recent": sorted(when.isoformat() for when in recent),
    "table_sql": table_sql,
}))
"""


@pytest.fixture
def sqlite_env(tmp_path):
    return sqlite_environment(tmp_path)


def test_sqlite_deletes_expired_results_in_bounded_batches(sqlite_env):
    migrated = manage(sqlite_env, "migrate", "--no-input", "-v", "1")
    assert migrated.returncode == 0, migrated.stderr
    assert "Applying results.0002_partition_results... OK" in migrated.stdout

    ran = manage(sqlite_env, "shell", "-v", "0", "-c", SEED_AND_RUN)
    assert ran.returncode == 0, ran.stderr
    out = json.loads(ran.stdout.strip().splitlines()[-1])

    assert out["ids"]
    # The migration left a plain table: its own primary key on id, no partitions.
    assert '"id" integer NOT NULL PRIMARY KEY AUTOINCREMENT' in out["table_sql"]
    assert out["dry"] == [12, 3]
    assert out["report"] == [12, 3, False, []]
    # 5 + 5 + 2: each batch one bounded DELETE, oldest first by the date index.
    assert len(out["deletes"]) == 3
    assert all("LIMIT 5" in sql and "ORDER BY date" in sql for sql in out["deletes"])
    assert out["left"] == out["recent"]

    dry = manage(sqlite_env, "results_retention", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "results retention (batched deletes); keeping results since" in dry.stdout
    assert "would delete 0 expired rows in 0 batches" in dry.stdout

    check = manage(sqlite_env, "makemigrations", "--check", "--dry-run")
    assert check.returncode == 0, check.stdout + check.stderr
