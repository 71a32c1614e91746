"""Uptime leaves maintenance out: the loop counts the runs that started inside a window covering
their monitor apart in the rollups (``Rollup.runs_maintenance``), and every uptime figure (the
periods, the badges and tiles, a bucket's) is OK runs / runs outside maintenance. A window
entered afterwards reaches the past through ``manage.py rollups_rebuild``. Runs go through the
loop's own ``batch_record``; PostgreSQL as everywhere."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from alerts.maintenance import runs_in_maintenance, window_save
from alerts.models import MaintenanceWindow
from monitors.models import Monitor
from results.history import floor_hour, rollup_series, uptime_by_period, uptime_counts
from results.models import Rollup

pytestmark = pytest.mark.django_db

# Runs start at the top of an hour so that an hour's runs share one hour rollup.
HOUR_START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday


def one_off(start: datetime, end: datetime, **targets) -> MaintenanceWindow:
    monitors = targets.pop("monitors", None)
    window = MaintenanceWindow(name="upgrade", starts_at=start, ends_at=end, **targets)
    window_save(window, monitors=monitors)
    return window


def rows(monitor: Monitor) -> list[tuple]:
    return list(
        Rollup.objects.filter(monitor=monitor)
        .order_by("resolution", "start")
        .values_list(
            "resolution", "start", "runs_ok", "runs_error", "runs_failed", "runs_maintenance",
            "runs_maintenance_ok",
        )
    )  # fmt: skip


def test_runs_inside_a_window_are_counted_apart_and_uptime_leaves_them_out(make_monitor, record):
    covered, other = make_monitor(name="covered"), make_monitor(name="other")
    # The window covers the first 10 minutes of the hour (runs every 30 s: the first 20).
    one_off(
        HOUR_START - timedelta(hours=1), HOUR_START + timedelta(minutes=10), monitors=[covered.pk]
    )
    for monitor in (covered, other):
        after = record(monitor, "O" + "F" * 9 + "E" * 5 + "O" * 5, start=HOUR_START)
        record(monitor, "OOOO" + "F", start=after + timedelta(minutes=10))
    now = HOUR_START + timedelta(minutes=50)

    hour = ("hour", HOUR_START, 10, 5, 10, 20, 6)  # the 20 runs of the window: 6 of them OK
    assert rows(covered) == [("day", HOUR_START.replace(hour=0), *hour[2:]), hour]
    # The monitor no window covers counts every run, none as maintenance.
    assert rows(other)[1] == ("hour", HOUR_START, 10, 5, 10, 0, 0)

    counts = uptime_counts([covered.pk, other.pk], ("24h", "7d"), now)
    assert counts[covered.pk] == {"24h": (4, 5), "7d": (4, 5)}  # OOOOF: after the window
    assert counts[other.pk] == {"24h": (10, 25), "7d": (10, 25)}
    assert uptime_by_period([covered.pk], ("24h",), now)[covered.pk]["24h"] == pytest.approx(80.0)
    [bucket] = rollup_series(covered.pk, since=HOUR_START, until=now, resolution="hour")
    assert (bucket.runs, bucket.runs_maintenance, bucket.uptime) == (25, 20, pytest.approx(80.0))


def test_a_period_spent_entirely_in_maintenance_has_no_uptime(make_monitor, record):
    monitor = make_monitor()
    one_off(HOUR_START, HOUR_START + timedelta(hours=1), all_monitors=True)
    record(monitor, "FFFOO", start=HOUR_START)

    assert uptime_by_period([monitor.pk], ("24h",), HOUR_START + timedelta(minutes=5)) == {
        monitor.pk: {"24h": None}
    }
    [bucket] = rollup_series(
        monitor.pk, since=HOUR_START, until=HOUR_START + timedelta(hours=1), resolution="hour"
    )
    assert (bucket.runs, bucket.runs_ok, bucket.runs_maintenance, bucket.uptime) == (5, 2, 5, None)


def test_a_window_by_tag_and_a_weekly_window_count_too(make_monitor, record):
    tagged = make_monitor(name="db", tags=["db"])
    weekly = make_monitor(name="web")
    one_off(HOUR_START - timedelta(days=1), HOUR_START + timedelta(days=1), tags=["db"])
    # Mondays 12:00-12:01 Europe/Berlin is 11:00 UTC in March: the runs at 12:00 UTC are outside.
    window = MaintenanceWindow(
        name="weekly", schedule="weekly", weekdays=[1], start_time=time(13, 0),
        duration_minutes=1, time_zone="Europe/Berlin",
    )  # fmt: skip
    window_save(window, monitors=[weekly.pk])
    record(tagged, "FF", start=HOUR_START)
    record(weekly, "FFF", start=HOUR_START)  # 12:00, 12:00:30 (inside), 12:01 (the end: outside)

    assert rows(tagged)[1][5:] == (2, 0)
    assert rows(weekly)[1][5:] == (2, 0)
    assert runs_in_maintenance(
        [
            (weekly.pk, HOUR_START),
            (weekly.pk, HOUR_START + timedelta(minutes=1)),
            (tagged.pk, HOUR_START),
        ]
    ) == [True, False, True]


def test_finding_the_maintenance_runs_of_a_batch_costs_one_query_without_windows(
    make_monitor, django_assert_num_queries
):
    monitors = [make_monitor(name=f"m{index}", tags=["db"]) for index in range(5)]
    runs = [
        (monitor.pk, HOUR_START + timedelta(seconds=index))
        for index, monitor in enumerate(monitors)
    ]
    # A window that ended before the runs is not even read.
    one_off(HOUR_START - timedelta(days=2), HOUR_START - timedelta(days=1), all_monitors=True)
    with django_assert_num_queries(1):
        assert runs_in_maintenance(runs) == [False] * 5
    # Windows that overlap: the windows, their chosen monitors, the runs' tags once.
    one_off(HOUR_START, HOUR_START + timedelta(hours=1), tags=["db"])
    one_off(HOUR_START, HOUR_START + timedelta(seconds=2), tags=["db", "web"])
    with django_assert_num_queries(3):
        assert runs_in_maintenance(runs) == [True] * 5


def test_a_window_entered_afterwards_reaches_uptime_through_a_rebuild(make_monitor, record):
    monitor = make_monitor()
    record(monitor, "OOFFFFOO", start=HOUR_START)  # an outage from 12:01 to 12:03
    now = HOUR_START + timedelta(minutes=30)
    assert uptime_counts([monitor.pk], ("24h",), now)[monitor.pk]["24h"] == (4, 8)

    # Entered after the fact: what was counted stays as counted...
    one_off(
        HOUR_START + timedelta(minutes=1), HOUR_START + timedelta(minutes=3), monitors=[monitor.pk]
    )
    assert uptime_counts([monitor.pk], ("24h",), now)[monitor.pk]["24h"] == (4, 8)

    # ...until the rollups are rebuilt against the windows as they stand now.
    out = StringIO()
    call_command(
        "rollups_rebuild", "--monitor", str(monitor.pk), "--since", "2026-03-02", stdout=out
    )
    assert "8 results" in out.getvalue()
    assert uptime_counts([monitor.pk], ("24h",), now)[monitor.pk]["24h"] == (4, 4)
    rebuilt = rows(monitor)

    # The rebuild gives the rows the loop writes when the window exists from the start.
    twin = make_monitor(name="twin")
    one_off(
        HOUR_START + timedelta(minutes=1), HOUR_START + timedelta(minutes=3), monitors=[twin.pk]
    )
    record(twin, "OOFFFFOO", start=HOUR_START)
    assert rows(twin) == rebuilt
    assert rebuilt[1] == ("hour", floor_hour(HOUR_START), 4, 0, 4, 4, 0)


def test_the_rollups_route_says_how_many_runs_were_maintenance(admin, make_monitor, record):
    monitor = make_monitor()
    one_off(HOUR_START, HOUR_START + timedelta(minutes=1), monitors=[monitor.pk])
    record(monitor, "FFOO", start=HOUR_START)  # two in the window, two after

    since = HOUR_START.isoformat().replace("+00:00", "Z")
    until = (HOUR_START + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    answer = admin.get(f"/api/monitors/{monitor.pk}/rollups?since={since}&until={until}").json()

    [bucket] = answer["buckets"]
    assert (bucket["runs"], bucket["runs_failed"], bucket["runs_maintenance"]) == (4, 2, 2)
    assert bucket["uptime"] == 100.0
