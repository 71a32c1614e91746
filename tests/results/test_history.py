"""Uptime over periods and chart series, read from rollups (``results.history``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lib.status import Status
from results.history import period_hours, rollup_series, uptime_by_period, uptime_counts
from results.models import Result
from tests.web.conftest import add_results

NOW = datetime(2026, 11, 21, 12, 30, tzinfo=UTC)
OK, ERROR, FAILED = Status.OK, Status.ERROR, Status.FAILED
pytestmark = pytest.mark.django_db


def test_uptime_over_each_period_counts_the_runs_of_its_hours_and_days(make_monitor, settings):
    settings.ROLLUP_HOURLY_RETENTION_SECONDS = 31 * 86400
    monitor = make_monitor(name="m")
    day = NOW.replace(hour=0, minute=0)
    history = [
        (NOW - timedelta(hours=1), [OK, ERROR]),
        (NOW - timedelta(hours=23, minutes=20), [OK]),  # 13:10 yesterday: in 24h (13:00 on)
        (NOW - timedelta(hours=23, minutes=35), [FAILED]),  # 12:55 yesterday: not in 24h
        (NOW - timedelta(hours=25), [FAILED]),
        (NOW - timedelta(days=6), [OK, OK, OK]),
        (NOW - timedelta(days=20), [ERROR]),
        (NOW - timedelta(days=80), [OK]),
        # 90d reaches beyond the hour rollups (31 days): it starts at its first UTC day.
        (day - timedelta(days=90) + timedelta(hours=5), [ERROR]),
        (NOW - timedelta(days=300), [FAILED, FAILED]),
        (NOW - timedelta(days=400), [OK]),  # in no period
    ]
    for start, statuses in history:
        add_results(monitor, statuses, start=start)
    idle = make_monitor(name="idle")

    counts = uptime_counts([monitor.id, idle.id], now=NOW)
    assert counts[monitor.id] == {
        "24h": (2, 3),
        "7d": (5, 8),
        "30d": (5, 9),
        "90d": (6, 11),
        "365d": (6, 13),
    }
    assert counts[idle.id] == dict.fromkeys(("24h", "7d", "30d", "90d", "365d"), (0, 0))
    uptime = uptime_by_period([monitor.id, idle.id], now=NOW)
    assert uptime[monitor.id]["24h"] == pytest.approx(200 / 3)
    assert uptime[monitor.id]["365d"] == pytest.approx(600 / 13)
    assert uptime[idle.id] == dict.fromkeys(("24h", "7d", "30d", "90d", "365d"))

    # The same runs counted from the raw rows, over the hour-aligned windows: exact.
    for period in ("24h", "7d", "30d"):
        since = NOW.replace(minute=0) - timedelta(hours=period_hours(period) - 1)
        raw = Result.objects.filter(monitor=monitor, date__gte=since, date__lte=NOW)
        assert counts[monitor.id][period] == (raw.filter(status=OK).count(), raw.count())


def test_uptime_of_a_page_of_monitors_is_one_query(make_monitor, django_assert_num_queries):
    monitors = [make_monitor(name=f"m{i}") for i in range(5)]
    for index, monitor in enumerate(monitors):
        add_results(monitor, [OK] * index + [FAILED], start=NOW - timedelta(hours=2))
    with django_assert_num_queries(1):
        uptime = uptime_by_period([m.id for m in monitors], periods=("24h", "30d"), now=NOW)
    assert [uptime[m.id]["24h"] for m in monitors] == [0.0, 50.0, 200 / 3, 75.0, 80.0]
    with pytest.raises(ValueError, match="a period is a number of hours or days"):
        uptime_by_period([monitors[0].id], periods=("1w",), now=NOW)


def test_series_are_the_buckets_of_a_range_with_gaps_absent(make_monitor):
    monitor = make_monitor(name="m")
    add_results(monitor, [OK, ERROR, FAILED], start=NOW - timedelta(hours=5), values=[10, 30, 0])
    add_results(monitor, [OK], start=NOW - timedelta(hours=2), values=[20.0])
    add_results(monitor, [OK], start=NOW - timedelta(days=3), values=[5.0])

    hours = rollup_series(monitor.id, since=NOW - timedelta(hours=6), until=NOW, resolution="hour")
    assert [b.start for b in hours] == [
        NOW.replace(minute=0) - timedelta(hours=5),
        NOW.replace(minute=0) - timedelta(hours=2),
    ]
    first = hours[0]
    assert (first.runs_ok, first.runs_error, first.runs_failed, first.runs) == (1, 1, 1, 3)
    assert (first.value_min, first.value_avg, first.value_max) == (10.0, 20.0, 30.0)
    assert first.value_p95 == pytest.approx(30, rel=0.05)
    assert first.uptime == pytest.approx(100 / 3)

    days = rollup_series(monitor.id, since=NOW - timedelta(days=7), until=NOW, resolution="day")
    assert [(b.start.day, b.runs) for b in days] == [(18, 1), (21, 4)]
    only_failed = rollup_series(monitor.id, since=NOW, until=NOW, resolution="hour")
    assert only_failed == []
    with pytest.raises(ValueError, match="resolution is hour or day"):
        rollup_series(monitor.id, since=NOW, until=NOW, resolution="minute")
