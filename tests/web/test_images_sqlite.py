"""Charts and badges on SQLite (the embedded shape), in a subprocess on a database file of its
own: every period's chart (raw runs and rollups) and every badge answer the same as on
PostgreSQL (the rest of tests/web runs there)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from tests.support.sqlite import manage, sqlite_environment

SEED_AND_ASK = """
import json
from datetime import timedelta
from django.test import Client
from django.utils import timezone
from lib.status import Status
from monitors.services import monitor_create
from results.models import MonitorState, Result
from results.rollups import rollups_add

now = timezone.now()
monitor = monitor_create(now=now, name="<site>", kind="http", target="https://example.net/",
                         interval="60s", enabled=True)
start = now - timedelta(minutes=40)
statuses = [Status.OK] * 10 + [Status.ERROR] + [Status.OK] * 5
results = Result.objects.bulk_create([
    Result(monitor=monitor, monitor_name="<site>", monitor_target="t",
           date=start + timedelta(minutes=2 * n), scheduled_for=start + timedelta(minutes=2 * n),
           status=status, value=20.0 + n, outputs={"respTime": 20.0 + n})
    for n, status in enumerate(statuses)
])
rollups_add(results)
MonitorState.objects.update_or_create(monitor=monitor, defaults=dict(
    last_status=Status.OK, last_run_at=results[-1].date, last_value=35.0,
    last_outputs={"certExpiryDays": 12.5}))
client = Client(SERVER_NAME="localhost")
answers = {}
paths = [f"/api/monitors/{monitor.id}/chart.svg?period={p}" for p in
         ("1h", "24h", "7d", "30d", "90d", "365d")]
paths += [f"/api/chart.svg?ids={monitor.id}&period=7d"]
paths += [f"/api/badge/{monitor.id}/{route}" for route in
          ("status", "uptime/24h", "uptime/7d", "ping/24", "cert-exp", "response")]
paths += ["/api/badge/999/status"]
for path in paths:
    response = client.get(path)
    answers[path.replace(f"/{monitor.id}/", "/ID/").replace(f"ids={monitor.id}", "ids=ID")] = [
        response.status_code, response["Content-Type"], response.content.decode()]
print(json.dumps(answers))
"""


@pytest.fixture
def sqlite_env(tmp_path):
    return sqlite_environment(tmp_path, NANOMON_PUBLIC_READ="true")


def words(document: str) -> list[str]:
    root = ET.fromstring(document)  # noqa: S314  (our own output, parsed to check it)
    return [
        t.text
        for t in root.iter("{http://www.w3.org/2000/svg}text")
        if t.get("aria-hidden") is None
    ]


def test_charts_and_badges_on_sqlite(sqlite_env):
    migrated = manage(sqlite_env, "migrate", "--no-input", "-v", "0")
    assert migrated.returncode == 0, migrated.stderr
    ran = manage(sqlite_env, "shell", "-v", "0", "-c", SEED_AND_ASK)
    assert ran.returncode == 0, ran.stderr
    answers = json.loads(ran.stdout.strip().splitlines()[-1])
    for path, (status, content_type, body) in answers.items():
        assert status == 200, (path, body[:300])
        assert content_type == "image/svg+xml", path
        ET.fromstring(body)  # noqa: S314  (well-formed XML)
    for period in ("1h", "24h", "7d", "30d", "90d", "365d"):
        chart = answers[f"/api/monitors/ID/chart.svg?period={period}"][2]
        assert 'class="chart-line"' in chart, period
        assert "&lt;site&gt;" in chart
    assert 'class="chart-range"' in answers["/api/monitors/ID/chart.svg?period=7d"][2]
    assert 'class="chart-band status-error"' in answers["/api/monitors/ID/chart.svg?period=1h"][2]
    assert words(answers["/api/badge/ID/status"][2]) == ["Status", "Up"]
    assert words(answers["/api/badge/ID/uptime/24h"][2]) == ["Uptime (24h)", "93.75%"]
    assert words(answers["/api/badge/ID/uptime/7d"][2]) == ["Uptime (7d)", "93.75%"]
    assert words(answers["/api/badge/ID/ping/24"][2]) == ["Avg. Ping (24h)", "27.5ms"]
    assert words(answers["/api/badge/ID/cert-exp"][2]) == ["Cert Exp.", "12 days"]
    assert words(answers["/api/badge/ID/response"][2]) == ["Response", "35ms"]
    assert words(answers["/api/badge/999/status"][2]) == ["Status", "N/A"]
