"""Writes to monitors (``monitors.services``)."""

from __future__ import annotations

import pytest
from celery import current_app

from monitors.services import DISPATCH_TASK, monitor_update, request_dispatch


def test_a_dispatch_request_sends_the_loops_dispatcher_by_its_task_name(monkeypatch):
    sent = []
    monkeypatch.setattr(
        current_app, "send_task", lambda name, **options: sent.append((name, options))
    )

    request_dispatch()

    assert sent == [("monitors.tasks.dispatch_due_monitors", {"expires": 5})]
    current_app.loader.import_default_modules()  # as a worker does when it starts
    assert current_app.tasks[DISPATCH_TASK].__module__ == "loop.tasks"


@pytest.mark.django_db
def test_a_save_drops_the_monitors_claim(make_monitor, now):
    from datetime import timedelta

    from monitors.scheduling import claim_due_monitors

    monitor = make_monitor()
    token, claims = claim_due_monitors(now=now, limit=10, lease=timedelta(seconds=30))
    assert [claim.monitor_id for claim in claims] == [monitor.id]
    monitor.refresh_from_db()
    assert monitor.run_token == token
    monitor_update(monitor, now=now, name="renamed", kind="http", target=monitor.target,
                   interval="30s", rule="", enabled=True, properties={})  # fmt: skip
    monitor.refresh_from_db()
    assert (monitor.run_token, monitor.lease_until, monitor.next_run_at) == (None, None, now)
