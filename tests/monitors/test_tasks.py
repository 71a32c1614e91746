"""The loop's tasks in-process: the dispatcher enqueues claimed batches; a batch runs its
probes and records results with the monitor's current name and target."""

from __future__ import annotations

import pytest
from django.utils import timezone

from monitors import tasks
from monitors.models import Monitor
from monitors.secrets import MASK, masked_properties
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


def test_secret_properties_are_masked_but_keep_their_header_names():
    masked = masked_properties(
        "http",
        {"headers": '{"Authorization": "Bearer abc", "X-Trace": "1"}', "method": "POST"},
    )

    assert masked == {
        "headers": f'{{"Authorization": "{MASK}", "X-Trace": "{MASK}"}}',
        "method": "POST",
    }
    assert masked_properties("http", {"headers": "not json"}) == {"headers": MASK}
