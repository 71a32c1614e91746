"""The conductor of a probe batch (``loop.batches.batch_record``): results, the monitors'
state and failure streaks, counters and claims, in one transaction; runs of monitors no longer
held by the batch's claim are dropped."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import OperationalError, transaction
from django.utils import timezone

from alerts.configuration import alert_policy_set, channel_create
from alerts.models import Notification, Transition
from loop import batches
from loop.batches import batch_record
from metrics.models import EngineCounter
from monitors.engine import CheckResult, CheckStatus
from monitors.scheduling import claim_due_monitors, start_claimed_batch
from monitors.services import monitor_delete, monitor_update
from results.models import MonitorState, Result
from results.services import RunRecord

LEASE = timedelta(seconds=30)
pytestmark = pytest.mark.django_db


def claim(now, limit=1000):
    return claim_due_monitors(now=now, limit=limit, lease=LEASE)


def ok_result(now, status=CheckStatus.OK):
    return CheckResult(
        status=status,
        value=12.5,
        message="" if status == CheckStatus.OK else "connection refused",
        outputs={"respTime": 12.5, "body": "secret"},
        stored_outputs={"respTime": 12.5},
        started_at=now,
        duration_seconds=0.0125,
    )


def test_an_update_resets_the_schedule_and_the_failure_streak(make_monitor, now):
    monitor = make_monitor()
    token, _ = claim(now)
    start_claimed_batch(token=token, monitor_ids=[monitor.id], now=now, grace=LEASE)
    batch_record(
        token=token,
        runs=[
            RunRecord(monitor.id, "web", monitor.target, now, ok_result(now, CheckStatus.FAILED))
        ],
    )
    assert MonitorState.objects.get(monitor=monitor).consecutive_failures == 1

    later = now + timedelta(seconds=3)
    monitor_update(
        monitor, now=later, name="renamed", kind="http", target=monitor.target,
        interval="1m", rule="", enabled=True, properties={},
    )  # fmt: skip

    monitor.refresh_from_db()
    assert monitor.next_run_at == later
    assert monitor.run_token is None
    assert MonitorState.objects.get(monitor=monitor).consecutive_failures == 0


def test_a_result_of_a_run_started_before_an_update_is_dropped(make_monitor, now):
    monitor = make_monitor()
    token, _ = claim(now)
    start_claimed_batch(token=token, monitor_ids=[monitor.id], now=now, grace=LEASE)
    monitor_update(
        monitor, now=now, name="new name", kind="http", target=monitor.target,
        interval="30s", rule="", enabled=True, properties={},
    )  # fmt: skip

    stored = batch_record(
        token=token, runs=[RunRecord(monitor.id, "web", monitor.target, now, ok_result(now))]
    )

    assert stored == []
    assert not Result.objects.exists()


def test_a_deleted_monitors_result_in_flight_is_dropped_without_error(make_monitor, now):
    monitor = make_monitor()
    token, _ = claim(now)
    start_claimed_batch(token=token, monitor_ids=[monitor.id], now=now, grace=LEASE)
    monitor_id = monitor.id
    monitor_delete(monitor)

    stored = batch_record(
        token=token, runs=[RunRecord(monitor_id, "web", "http://x/", now, ok_result(now))]
    )

    assert stored == []


def test_recording_stores_the_snapshot_and_updates_the_state(make_monitor, now):
    monitor = make_monitor(name="web ")
    token, _ = claim(now)
    start_claimed_batch(token=token, monitor_ids=[monitor.id], now=now, grace=LEASE)

    batch_record(
        token=token, runs=[RunRecord(monitor.id, "web ", monitor.target, now, ok_result(now))]
    )

    result = Result.objects.get()
    assert (result.monitor_name, result.status, result.value) == ("web ", 0, 12.5)
    assert result.outputs == {"respTime": 12.5}  # the body is never stored
    assert result.scheduled_for == now
    state = MonitorState.objects.get(monitor=monitor)
    assert (state.last_status, state.last_run_at, state.consecutive_failures) == (0, now, 0)
    monitor.refresh_from_db()
    assert monitor.run_token is None
    assert monitor.lease_until is None


def test_the_failure_streak_counts_non_ok_runs_and_an_ok_run_ends_it(make_monitor, now):
    monitor = make_monitor(interval="1s")
    streaks = []
    for step, status in enumerate(
        [
            CheckStatus.ERROR,
            CheckStatus.FAILED,
            CheckStatus.ERROR,
            CheckStatus.OK,
            CheckStatus.FAILED,
        ]
    ):
        at = now + timedelta(seconds=2 * step)
        token, claims = claim(at)
        assert [c.monitor_id for c in claims] == [monitor.id]
        start_claimed_batch(token=token, monitor_ids=[monitor.id], now=at, grace=LEASE)
        batch_record(
            token=token,
            runs=[RunRecord(monitor.id, "web", monitor.target, at, ok_result(at, status))],
        )
        streaks.append(MonitorState.objects.get(monitor=monitor).consecutive_failures)

    assert streaks == [1, 2, 3, 0, 1]


def test_batch_record_adds_the_batch_counts_in_its_transaction(
    make_monitor, django_assert_max_num_queries
):
    now = timezone.now()
    monitor = make_monitor(kind="tcp", target="127.0.0.1:9", now=now)
    token, claims = claim_due_monitors(now=now, limit=10, lease=timedelta(seconds=30))
    check = CheckResult(
        status=CheckStatus.ERROR,
        value=3.0,
        message="Rule violated: x",
        outputs={},
        stored_outputs={},
        started_at=now + timedelta(seconds=1.5),
        duration_seconds=0.2,
    )
    runs = [RunRecord(monitor.id, monitor.name, monitor.target, claims[0].scheduled_for, check,
                      monitor_kind="tcp")]  # fmt: skip

    batch_record(token=token, runs=runs)

    counters = {(row.name, row.label, row.bucket): row.value for row in EngineCounter.objects.all()}
    assert counters[("probes", "tcp", "error")] == 1
    assert counters[("results_written", "tcp", "")] == 1
    assert counters[("probe_duration_bucket", "tcp", "0.25")] == 1
    assert counters[("probe_duration_sum", "tcp", "")] == pytest.approx(0.2)
    assert counters[("schedule_lag_bucket", "", "2.5")] == 1
    assert counters[("schedule_lag_sum", "", "")] == pytest.approx(1.5)


def test_a_failing_record_rolls_its_counts_back(make_monitor):
    now = timezone.now()
    monitor = make_monitor(now=now)
    token, claims = claim_due_monitors(now=now, limit=10, lease=timedelta(seconds=30))
    check = CheckResult(CheckStatus.OK, 1.0, "", {}, now, 0.01, {})
    runs = [RunRecord(monitor.id, "web", monitor.target, claims[0].scheduled_for, check)]

    def record_then_fail() -> None:
        with transaction.atomic():
            batch_record(token=token, runs=runs)
            raise RuntimeError("the batch's transaction fails after the counts were added")

    with pytest.raises(RuntimeError):
        record_then_fail()

    assert not EngineCounter.objects.exists()


def test_a_failing_batch_rolls_back_its_results_state_and_alerts_together(make_monitor, now):
    channel_create(name="hook", kind="webhook", config={"url": "http://127.0.0.1:9/hook"})
    monitor = make_monitor()
    alert_policy_set(monitor, fail_threshold=1)
    token, _ = claim(now)
    runs = [RunRecord(monitor.id, "web", monitor.target, now, ok_result(now, CheckStatus.FAILED))]

    def record_then_fail() -> None:
        with transaction.atomic():
            assert len(batch_record(token=token, runs=runs)) == 1
            assert Notification.objects.filter(transition__monitor=monitor).count() == 1
            raise RuntimeError("the batch's transaction fails after it was recorded")

    with pytest.raises(RuntimeError):
        record_then_fail()

    assert not Result.objects.exists()
    assert MonitorState.objects.get(monitor=monitor).consecutive_failures == 0
    assert not Transition.objects.exists()
    assert not Notification.objects.exists()
    monitor.refresh_from_db()
    assert monitor.run_token == token  # still claimed: its lease expires instead


class _Deadlock(Exception):
    sqlstate = "40P01"  # what psycopg's DeadlockDetected carries


@pytest.mark.django_db(transaction=True)
def test_a_batch_rolled_back_by_a_deadlock_is_recorded_again_once(monkeypatch):
    calls = []
    real_record = batches._record

    def deadlock_once(token, runs):
        calls.append(token)
        if len(calls) == 1:
            raise OperationalError("deadlock detected") from _Deadlock()
        return real_record(token, runs)

    monkeypatch.setattr(batches, "_record", deadlock_once)

    assert batches.batch_record(token=uuid.uuid4(), runs=[]) == []
    assert len(calls) == 2


@pytest.mark.django_db(transaction=True)
def test_other_database_errors_are_not_retried(monkeypatch):
    calls = []

    def fails(token, runs):
        calls.append(token)
        raise OperationalError("server closed the connection")

    monkeypatch.setattr(batches, "_record", fails)

    with pytest.raises(OperationalError):
        batches.batch_record(token=uuid.uuid4(), runs=[])
    assert len(calls) == 1
