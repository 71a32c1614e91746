"""Deletes, updates and imports while batches are being recorded (issue 19 item 5): each
answers 2xx or 4xx, never 500, and leaves the data as it says.

Before, ``DELETE /api/monitors`` deadlocked with the workers' ``batch_record`` (it deleted
states and results the batch was writing while the batch held the monitor rows it had come
to) and the whole delete was rolled back: 10 of 10 attempts of the first test below failed.
PostgreSQL, with real concurrent transactions: each thread has a connection of its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from loop.batches import batch_record
from monitors.engine import CheckResult, CheckStatus
from monitors.models import Monitor
from monitors.scheduling import claim_due_monitors
from monitors.services import monitor_create, monitor_delete, monitor_update
from results.models import MonitorState, Result
from results.services import RunRecord
from tests.support.api import http_monitor, token_client

pytestmark = pytest.mark.django_db(transaction=True)

# 2xx and 4xx only; 503 would be the database said to be unavailable.
ANSWERS = {200, 204, 404}


class Recorder:
    """Threads doing what the workers' batches do, as fast as they can: claim the due
    monitors (50 at a time), then record a result for each with ``batch_record``."""

    def __init__(self, threads: int = 3) -> None:
        self.stop = threading.Event()
        self.errors: list[str] = []
        self.recorded = 0
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(n,)) for n in range(threads)]

    def __enter__(self) -> Recorder:
        for thread in self._threads:
            thread.start()
        deadline = time.monotonic() + 30
        while self.recorded < 100 and time.monotonic() < deadline:
            time.sleep(0.01)  # recording is under way before the test writes
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join()

    def _run(self, number: int) -> None:
        step = 0
        try:
            while not self.stop.is_set():
                step += 1
                # Claim as if hours passed between rounds: every monitor is due every round.
                now = timezone.now() + timedelta(hours=step, minutes=number)
                try:
                    token, claims = claim_due_monitors(
                        now=now, limit=50, lease=timedelta(seconds=30)
                    )
                    if not claims:
                        time.sleep(0.002)
                        continue
                    check = CheckResult(CheckStatus.FAILED, 0.0, "refused", None, now, 0.01)
                    runs = [
                        RunRecord(
                            monitor_id=claim.monitor_id,
                            monitor_name="m",
                            monitor_target="t",
                            scheduled_for=claim.scheduled_for,
                            check=check,
                            monitor_kind="http",
                        )
                        for claim in claims
                    ]
                    stored = len(batch_record(token=token, runs=runs))
                except Exception as error:
                    with self._lock:
                        self.errors.append(repr(error))
                    continue
                with self._lock:
                    self.recorded += stored
        finally:
            connection.close()


def monitors(count: int) -> list[int]:
    return [
        monitor_create(
            name=f"m{number:03d}",
            kind="http",
            target="http://127.0.0.1:9/",
            interval="1s",
            enabled=True,
        ).id
        for number in range(count)
    ]


def at_once(*calls: Callable[[], object]) -> list[object]:
    """Run each call in a thread of its own, released together; their answers in order."""
    start = threading.Barrier(len(calls))
    answers: list[object] = [None] * len(calls)

    def run(index: int, call: Callable[[], object]) -> None:
        try:
            start.wait()
            answers[index] = call()
        except Exception as error:
            answers[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=item) for item in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


@pytest.mark.parametrize("attempt", range(5))
def test_deleting_every_monitor_while_batches_are_recorded(admin_user, attempt):
    monitors(200)
    with Recorder() as recorder:
        response = token_client(admin_user).delete("/api/monitors")

    assert response.status_code == 204, response.content
    assert not Monitor.objects.exists()
    assert not Result.objects.exists()
    assert not MonitorState.objects.exists()
    assert recorder.errors == []


def test_deleting_monitors_one_by_one_while_batches_are_recorded(admin_user):
    ids = monitors(100)
    client = token_client(admin_user)
    with Recorder() as recorder:
        answers = [
            client.delete(f"/api/monitors/{monitor_id}").status_code for monitor_id in ids[:40]
        ]

    assert answers == [204] * 40
    assert set(Monitor.objects.values_list("pk", flat=True)) == set(ids[40:])
    assert not Result.objects.filter(monitor_id__in=ids[:40]).exists()
    assert recorder.errors == []


def test_updating_monitors_while_batches_are_recorded(admin_user):
    ids = monitors(100)
    client = token_client(admin_user)
    with Recorder() as recorder:
        answers = [
            client.put(
                f"/api/monitors/{monitor_id}", http_monitor(name=f"new {monitor_id}"), format="json"
            ).status_code
            for monitor_id in ids[:40]
        ]

    assert answers == [200] * 40
    renamed = Monitor.objects.filter(pk__in=ids[:40], name__startswith="new ")
    assert renamed.count() == 40
    assert recorder.errors == []


def test_an_update_racing_a_delete_answers_200_or_404_and_never_brings_it_back(admin_user):
    ids = monitors(60)
    client = token_client(admin_user)
    with Recorder() as recorder:
        for monitor_id in ids[:20]:
            update, delete = at_once(
                lambda monitor_id=monitor_id: (
                    client.put(
                        f"/api/monitors/{monitor_id}", http_monitor(name="raced"), format="json"
                    ).status_code
                ),
                lambda monitor_id=monitor_id: (
                    client.delete(f"/api/monitors/{monitor_id}").status_code
                ),
            )
            assert (update, delete) in {(200, 204), (404, 204)}, (update, delete)

    assert not Monitor.objects.filter(pk__in=ids[:20]).exists()
    assert recorder.errors == []


def test_a_stale_update_of_a_deleted_monitor_does_not_store_it_again(make_monitor):
    """What the race above can do, step by step: read, deleted by someone else, saved."""
    monitor = make_monitor(name="read")
    stale = Monitor.objects.get(pk=monitor.pk)
    assert monitor_delete(monitor) is True

    with pytest.raises(Monitor.DoesNotExist):
        monitor_update(
            stale, name="saved", kind="http", target="http://127.0.0.1:9/", interval="30s",
            rule="", enabled=True, properties={},
        )  # fmt: skip

    assert not Monitor.objects.exists()
    assert monitor_delete(stale) is False  # already gone: the API answers 404


def test_importing_with_replace_while_batches_are_recorded(admin_user):
    monitors(200)
    imported = [http_monitor(name=f"imported {number}") for number in range(50)]
    with Recorder() as recorder:
        response = token_client(admin_user).post(
            "/api/monitors/import?mode=replace", imported, format="json"
        )
        time.sleep(0.3)  # the imported monitors are claimed and recorded too

    assert response.status_code == 204, response.content
    assert Monitor.objects.count() == 50
    assert not Monitor.objects.exclude(name__startswith="imported ").exists()
    assert not Result.objects.exclude(monitor__name__startswith="imported ").exists()
    assert recorder.errors == []


def test_deletes_and_imports_at_once_while_batches_are_recorded(admin_user):
    monitors(200)
    client = token_client(admin_user)
    imported = [http_monitor(name=f"imported {number}") for number in range(20)]
    with Recorder() as recorder:
        answers = at_once(
            lambda: client.delete("/api/monitors").status_code,
            lambda: client.delete("/api/monitors").status_code,
            lambda: client.post("/api/monitors/import", imported, format="json").status_code,
            lambda: (
                client.post(
                    "/api/monitors/import?mode=replace", imported, format="json"
                ).status_code
            ),
            lambda: client.delete("/api/results").status_code,
        )

    assert answers == [204] * 5, answers
    assert recorder.errors == []
    # Whatever order they ran in, what is left is whole: imported monitors only, 0 to 40.
    assert not Monitor.objects.exclude(name__startswith="imported ").exists()
    assert Monitor.objects.count() in {0, 20, 40}
