"""Writes to monitors (``monitors.services``)."""

from __future__ import annotations

from celery import current_app

from monitors.services import DISPATCH_TASK, request_dispatch


def test_a_dispatch_request_sends_the_loops_dispatcher_by_its_task_name(monkeypatch):
    sent = []
    monkeypatch.setattr(
        current_app, "send_task", lambda name, **options: sent.append((name, options))
    )

    request_dispatch()

    assert sent == [("monitors.tasks.dispatch_due_monitors", {"expires": 5})]
    current_app.loader.import_default_modules()  # as a worker does when it starts
    assert current_app.tasks[DISPATCH_TASK].__module__ == "loop.tasks"
