"""The loop's tasks in-process: the dispatcher enqueues claimed batches; a batch runs its
probes and records results with the monitor's current name and target."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

import pytest
from django.db import DatabaseError
from django.utils import timezone

from loop import tasks
from metrics.models import EngineCounter
from metrics.services import SLOTS_SKIPPED
from monitors.models import Monitor
from monitors.services import monitor_update
from results.models import MonitorState, Result
from tests.support.http_servers import build_test_app, serve_app

pytestmark = pytest.mark.django_db


@pytest.fixture
def enqueued(monkeypatch):
    """Capture what the dispatcher would publish instead of sending it to the broker."""
    sent: list[tuple] = []
    monkeypatch.setattr(tasks.run_probe_batch, "delay", lambda *args: sent.append(args))
    return sent


def test_the_dispatcher_enqueues_due_monitors_in_batches(settings, make_monitor, enqueued):
    settings.NANOMON_DISPATCH_BATCH_SIZE = 2
    for number in range(5):
        make_monitor(name=f"m{number}", now=timezone.now())

    dispatched = tasks.dispatch_due_monitors()

    assert dispatched == 5
    assert [len(items) for _, items in enqueued] == [2, 2, 1]
    assert len({token for token, _ in enqueued}) == 1
    assert tasks.dispatch_due_monitors() == 0  # all claimed: nothing twice


def test_a_probe_batch_records_results_and_state(make_monitor, enqueued):
    with serve_app(build_test_app()) as server:
        ok = make_monitor(name="ok", target=server.url("/ok"), now=timezone.now())
        bad = make_monitor(
            name="bad", target=server.url("/status/500"), rule="status == 200", now=timezone.now()
        )
        tasks.dispatch_due_monitors()
        token, items = enqueued[0]

        stored = tasks.run_probe_batch(token, items)

    assert stored == 2
    by_name = {result.monitor_name: result for result in Result.objects.all()}
    assert by_name["ok"].status == Result.Status.OK
    assert by_name["ok"].outputs["bodyLen"] == len("hello from the test server")
    assert by_name["bad"].status == Result.Status.ERROR
    assert by_name["bad"].message == "Rule violated: status == 200"
    assert MonitorState.objects.get(monitor=bad).consecutive_failures == 1
    assert MonitorState.objects.get(monitor=ok).last_outputs["status"] == 200
    assert not Monitor.objects.filter(run_token__isnull=False).exists()


def test_a_batch_for_a_monitor_deleted_meanwhile_records_nothing(make_monitor, enqueued):
    monitor = make_monitor(now=timezone.now())
    tasks.dispatch_due_monitors()
    token, items = enqueued[0]
    monitor.delete()

    assert tasks.run_probe_batch(token, items) == 0
    assert not Result.objects.exists()


# --- Recording as checks end ---------------------------------------------------------------


class Recordings:
    """Every ``batch_record`` call of a batch, as (seconds since the start, monitor ids,
    monitors still claimed right after it); ``hook(ids)`` runs before each call."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.calls: list[tuple[float, list[int], set[int]]] = []
        self.hook = lambda ids: None


@pytest.fixture
def recordings(monkeypatch):
    recorded = Recordings()
    real = tasks.batch_record

    def spy(*, token, runs):
        ids = [run.monitor_id for run in runs]
        recorded.hook(ids)
        stored = real(token=token, runs=runs)
        claimed = set(Monitor.objects.filter(run_token=token).values_list("pk", flat=True))
        recorded.calls.append((time.monotonic() - recorded.started, ids, claimed))
        return stored

    monkeypatch.setattr(tasks, "batch_record", spy)
    return recorded


def quick_and_hanging(make_monitor, server):
    quick = make_monitor(name="quick", target=server.url("/ok"), now=timezone.now())
    hanging = make_monitor(
        name="hanging", target=server.url("/sleep?seconds=30"), properties={"timeout": "2s"},
        now=timezone.now(),
    )  # fmt: skip
    return quick, hanging


def test_a_quick_check_is_recorded_and_released_while_a_slow_one_still_runs(
    make_monitor, enqueued, recordings
):
    with serve_app(build_test_app()) as server:
        quick, hanging = quick_and_hanging(make_monitor, server)
        tasks.dispatch_due_monitors()
        [(token, items)] = enqueued

        stored = tasks.run_probe_batch(token, items)

    (quick_at, first, claimed_after_first), (hanging_at, second, _) = recordings.calls
    assert (first, second) == ([quick.id], [hanging.id])
    assert quick_at < 1.5  # Functional bound, well before the 2 s timeout
    assert claimed_after_first == {hanging.id}  # the quick monitor's next slot is free
    assert hanging_at >= 2
    assert stored == 2
    assert Result.objects.get(monitor=hanging).message == "timed out after 2s"
    assert not Monitor.objects.filter(run_token__isnull=False).exists()


def test_a_failed_recording_keeps_what_was_stored_and_releases_the_rest(
    make_monitor, enqueued, recordings
):
    with serve_app(build_test_app()) as server:
        quick, hanging = quick_and_hanging(make_monitor, server)
        tasks.dispatch_due_monitors()
        [(token, items)] = enqueued

        def fail_for_the_hanging_one(ids):
            if hanging.id in ids:
                raise DatabaseError("the database went away")

        recordings.hook = fail_for_the_hanging_one
        with pytest.raises(DatabaseError):
            tasks.run_probe_batch(token, items)

    assert list(Result.objects.values_list("monitor", flat=True)) == [quick.id]
    assert not Monitor.objects.filter(run_token__isnull=False).exists()  # next slot runs


def test_a_result_counts_only_while_its_monitor_still_holds_the_claim(
    make_monitor, enqueued, recordings
):
    with serve_app(build_test_app()) as server:
        quick, hanging = quick_and_hanging(make_monitor, server)
        tasks.dispatch_due_monitors()
        [(token, items)] = enqueued

        def update_the_hanging_one(ids):
            if ids == [quick.id]:  # while the hanging check still runs
                monitor_update(hanging, name="changed", interval="30s", properties={})

        recordings.hook = update_the_hanging_one
        stored = tasks.run_probe_batch(token, items)

    assert stored == 1
    assert list(Result.objects.values_list("monitor_name", flat=True)) == ["quick"]


# --- Slots skipped -------------------------------------------------------------------------


def test_the_dispatcher_runs_a_monitor_behind_once_and_counts_the_slots_it_skipped(
    make_monitor, enqueued, caplog
):
    monitor = make_monitor(interval="30s", now=timezone.now())
    behind = timezone.now() - timedelta(seconds=95)
    Monitor.objects.filter(pk=monitor.pk).update(next_run_at=behind)

    with caplog.at_level(logging.WARNING, logger="loop.tasks"):
        assert tasks.dispatch_due_monitors() == 1

    [(_, [[monitor_id, slot]])] = enqueued
    assert monitor_id == monitor.id
    assert datetime.fromisoformat(slot) == behind + timedelta(seconds=90)  # the latest slot
    assert EngineCounter.objects.get(name=SLOTS_SKIPPED, label="http").value == 3
    assert "1 monitor(s) were one interval or more behind" in caplog.text
    assert f"3 slot(s) skipped (monitor {monitor.id}: 3)" in caplog.text
