"""``since``/``until`` on the result routes and the rollup route
``/api/monitors/{id}/rollups``."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from lib.status import Status
from tests.web.conftest import add_results

pytestmark = pytest.mark.django_db


def iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def test_since_and_until_keep_a_time_range_and_page_within_it(admin, make_monitor, now):
    monitor = make_monitor(name="web")
    start = now - timedelta(hours=2)
    add_results(monitor, [Status.OK] * 120, start=start)  # one a minute, from 2 h ago
    since, until = start + timedelta(minutes=30), start + timedelta(minutes=40)
    query = f"since={iso(since)}&until={iso(until)}"
    for path in (f"/api/monitors/{monitor.id}/results", "/api/results"):
        dates = [r["date"] for r in admin.get(f"{path}?{query}").json()]
        assert len(dates) == 10  # 30 (inclusive) to 39; 40 is until (exclusive)
        assert dates[0] == iso(start + timedelta(minutes=39))
        assert dates[-1] == iso(since)

    first = admin.get(f"/api/results?max=4&since={iso(since)}")
    link = urlsplit(first["Link"].split(";")[0].strip("<>"))
    assert parse_qs(link.query)["since"] == [since.isoformat()]
    seen = [r["date"] for r in first.json()]
    while "Link" in first:
        first = admin.get(first["Link"].split(";")[0].strip("<>"))
        seen += [r["date"] for r in first.json()]
    assert len(seen) == 90  # minutes 30 to 119, each once
    assert len(set(seen)) == 90


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("since=yesterday", "since must be an RFC 3339 date"),
        ("until=2026-13-01T00:00:00Z", "until must be an RFC 3339 date"),
        ("since=2026-11-21T12:00:00Z&until=2026-11-21T12:00:00Z", "since must be before until"),
        ("since=2026-11-22T00:00:00Z&until=2026-11-21T00:00:00Z", "since must be before until"),
    ],
)
def test_a_bad_range_is_a_400_problem_saying_what(admin, make_monitor, query, detail):
    monitor = make_monitor()
    for path in (
        "/api/results",
        f"/api/monitors/{monitor.id}/results",
        f"/api/monitors/{monitor.id}/rollups",
    ):
        response = admin.get(f"{path}?{query}")
        assert response.status_code == 400, path
        assert response["Content-Type"].startswith("application/problem+json")
        assert response.json()["detail"].startswith(detail)


def test_the_rollup_route_gives_hour_and_day_buckets_of_a_range(viewer, make_monitor, now):
    monitor = make_monitor()
    start = now - timedelta(hours=3)  # 09:00 on the 21st
    statuses = [Status.OK, Status.OK, Status.ERROR, Status.FAILED] * 30  # 2 hours
    add_results(monitor, statuses, start=start, values=[float(n) for n in range(120)])
    until = now + timedelta(minutes=1)
    response = viewer.get(f"/api/monitors/{monitor.id}/rollups?until={iso(until)}")
    assert response.status_code == 200
    body = response.json()
    assert body["resolution"] == "hour"
    assert body["since"] == iso(until - timedelta(hours=24))
    assert [b["start"] for b in body["buckets"]] == [
        iso(start),
        iso(start + timedelta(hours=1)),
    ]  # 11:00 (no runs) is absent
    first = body["buckets"][0]
    assert (first["runs"], first["runs_ok"], first["runs_error"], first["runs_failed"]) == (
        60,
        30,
        15,
        15,
    )
    assert first["uptime"] == 50.0
    measured = [float(n) for n in range(60) if n % 4 != 3]  # Failed runs measured nothing
    assert (first["value_min"], first["value_max"]) == (0.0, 58.0)
    assert first["value_avg"] == pytest.approx(sum(measured) / len(measured))
    assert first["value_p95"] == pytest.approx(56, rel=0.05)

    day = viewer.get(f"/api/monitors/{monitor.id}/rollups?resolution=day").json()
    assert [(b["start"], b["runs"]) for b in day["buckets"]] == [(iso(now.replace(hour=0)), 120)]


@pytest.mark.parametrize(
    ("query", "status", "detail"),
    [
        ("resolution=minute", 400, "resolution must be hour or day"),
        ("since=2020-01-01T00:00:00Z", 400, "a range is at most 10000 hours"),
    ],
)
def test_the_rollup_route_refuses_bad_parameters(admin, make_monitor, query, status, detail):
    monitor = make_monitor()
    response = admin.get(f"/api/monitors/{monitor.id}/rollups?{query}")
    assert response.status_code == status
    assert response.json()["detail"] == detail


def test_the_rollup_route_of_an_unknown_monitor_is_404_and_reads_need_a_role(
    admin, anonymous, make_monitor
):
    assert admin.get("/api/monitors/999999/rollups").status_code == 404
    assert admin.get("/api/monitors/x/rollups").status_code == 400
    monitor = make_monitor()
    assert anonymous.get(f"/api/monitors/{monitor.id}/rollups").status_code == 401
