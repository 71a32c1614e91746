"""The reads behind the pages: sparklines, uptime, results by status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from django.db import connection

from lib.status import Status
from results import selectors
from results.selectors import results_latest, sparklines, uptime_percentages
from tests.web.conftest import add_results

START = datetime(2026, 11, 1, tzinfo=UTC)
pytestmark = pytest.mark.django_db


def test_sparklines_are_the_last_points_of_each_monitor_oldest_first_in_one_query(
    make_monitor, django_assert_num_queries
):
    busy = make_monitor(name="busy")
    add_results(busy, [Status.OK] * 30, start=START)
    quiet = make_monitor(name="quiet")
    add_results(quiet, [Status.FAILED, Status.OK], start=START)
    idle = make_monitor(name="idle")
    with django_assert_num_queries(1):
        series = sparklines([busy.id, quiet.id, idle.id], points=20)
    assert len(series[busy.id]) == 20
    # add_results gives run n the value 12.5 + n: the last 20 of 30 are runs 10 to 29.
    assert [point.value for point in series[busy.id]] == [12.5 + n for n in range(10, 30)]
    assert [point.status for point in series[quiet.id]] == [Status.FAILED, Status.OK]
    assert idle.id not in series
    assert sparklines([], points=20) == {}


def test_sparklines_join_the_last_days_and_older_runs_in_one_query(
    make_monitor, django_assert_num_queries
):
    """The newest runs are read from the last days' partitions first; a monitor with fewer
    runs there gets the rest from older ones, and one with enough never reads them."""
    now = datetime.now(UTC)
    both = make_monitor(name="both")
    add_results(both, [Status.FAILED] * 30, start=now - timedelta(days=10))  # older
    add_results(both, [Status.OK] * 5, start=now - timedelta(hours=1))  # recent
    recent = make_monitor(name="recent")
    add_results(recent, [Status.ERROR] * 3, start=now - timedelta(days=10))
    add_results(recent, [Status.OK] * 25, start=now - timedelta(hours=1))

    with django_assert_num_queries(1):
        series = sparklines([both.id, recent.id], points=20)

    assert [point.status for point in series[both.id]] == [Status.FAILED] * 15 + [Status.OK] * 5
    assert [point.value for point in series[both.id]][-5:] == [12.5 + n for n in range(5)]
    assert [point.status for point in series[recent.id]] == [Status.OK] * 20
    assert [point.value for point in series[recent.id]] == [12.5 + n for n in range(5, 25)]


def test_the_window_function_path_gives_the_same_sparklines(make_monitor, monkeypatch):
    """SQLite (the embedded shape) has no LATERAL: it ranks with ROW_NUMBER()."""
    monitors = [make_monitor(name=f"m{index}") for index in range(3)]
    for index, monitor in enumerate(monitors):
        add_results(monitor, [Status.OK, Status.ERROR] * (index + 12), start=START)
    ids = [monitor.id for monitor in monitors]
    lateral = sparklines(ids, points=20)
    assert connection.vendor == "postgresql"
    monkeypatch.setattr(selectors, "connection", SimpleNamespace(vendor="sqlite"))
    assert sparklines(ids, points=20) == lateral


def test_uptime_is_the_share_of_ok_runs_per_window_in_one_query(
    make_monitor, django_assert_num_queries
):
    monitor = make_monitor(name="m")
    now = START + timedelta(days=40)
    # 10 days ago: 4 failures; 2 hours ago: 1 OK and 1 error; 20 days ago: 4 OK.
    add_results(monitor, [Status.FAILED] * 4, start=now - timedelta(days=10))
    add_results(monitor, [Status.OK, Status.ERROR], start=now - timedelta(hours=2))
    add_results(monitor, [Status.OK] * 4, start=now - timedelta(days=20))
    add_results(monitor, [Status.OK] * 3, start=now - timedelta(days=60))  # outside every window
    windows = [timedelta(hours=24), timedelta(days=7), timedelta(days=30)]
    with django_assert_num_queries(1):
        day, week, month = uptime_percentages(monitor.id, windows=windows, now=now)
    assert (day.runs, day.ok_runs, day.percent) == (2, 1, 50.0)
    assert (week.runs, week.percent) == (2, 50.0)
    assert (month.runs, month.ok_runs, month.percent) == (10, 5, 50.0)
    assert uptime_percentages(monitor.id, windows=windows, now=START)[0].percent is None


def test_results_of_one_status_page_by_cursor(make_monitor):
    monitor = make_monitor(name="m")
    add_results(monitor, [Status.OK, Status.FAILED] * 5, start=START)
    first = results_latest(status=Status.FAILED, limit=3)
    assert [result.status for result in first] == [Status.FAILED] * 3
    rest = results_latest(
        status=Status.FAILED, limit=3, before=first[-1].date, before_id=first[-1].id
    )
    assert len(rest) == 2
    assert rest[0].date < first[-1].date
