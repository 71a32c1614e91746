"""Writes of the results app: a batch's results, the monitors' current state and failure
streaks, deleting every result."""

from __future__ import annotations

from datetime import timedelta

import pytest

from monitors.engine import CheckResult, CheckStatus
from results.models import MonitorState, Result
from results.services import RunRecord, monitor_states_update, results_delete_all, results_store

pytestmark = pytest.mark.django_db


def run(monitor, at, status=CheckStatus.OK) -> RunRecord:
    check = CheckResult(
        status=status,
        value=12.5,
        message="" if status == CheckStatus.OK else "connection refused",
        outputs={"respTime": 12.5, "body": "secret"},
        stored_outputs={"respTime": 12.5},
        started_at=at,
        duration_seconds=0.0125,
    )
    return RunRecord(monitor.id, monitor.name, monitor.target, at - timedelta(seconds=1), check)


def test_a_result_stores_the_runs_snapshot_without_the_body(make_monitor, now):
    monitor = make_monitor(name="web ")

    [stored] = results_store([run(monitor, now)])

    result = Result.objects.get()
    assert result.pk == stored.pk
    assert (result.monitor_name, result.monitor_target) == ("web ", monitor.target)
    assert (result.status, result.value, result.message) == (0, 12.5, "")
    assert result.outputs == {"respTime": 12.5}
    assert (result.date, result.scheduled_for) == (now, now - timedelta(seconds=1))
    assert result.duration_ms == pytest.approx(12.5)


def test_each_monitors_state_counts_its_non_ok_runs_until_an_ok_one(make_monitor, now):
    first, second = make_monitor(name="first"), make_monitor(name="second")
    steps = [
        (CheckStatus.FAILED, CheckStatus.OK),
        (CheckStatus.ERROR, CheckStatus.FAILED),
        (CheckStatus.OK, CheckStatus.ERROR),
    ]

    streaks = [
        monitor_states_update([run(first, now + timedelta(seconds=n), a), run(second, now, b)])
        for n, (a, b) in enumerate(steps)
    ]

    assert streaks == [
        {first.id: 1, second.id: 0},
        {first.id: 2, second.id: 1},
        {first.id: 0, second.id: 2},
    ]
    state = MonitorState.objects.get(monitor=first)
    assert (state.last_status, state.last_run_at, state.last_value) == (
        0,
        now + timedelta(seconds=2),
        12.5,
    )
    assert (state.last_message, state.last_outputs) == ("", {"respTime": 12.5})
    assert MonitorState.objects.get(monitor=second).last_message == "connection refused"


def test_deleting_every_result_keeps_the_monitors_state(make_monitor, now):
    monitor = make_monitor()
    results_store([run(monitor, now), run(monitor, now + timedelta(seconds=30))])
    monitor_states_update([run(monitor, now, CheckStatus.FAILED)])

    assert results_delete_all() == 2

    assert not Result.objects.exists()
    assert MonitorState.objects.get(monitor=monitor).consecutive_failures == 1
