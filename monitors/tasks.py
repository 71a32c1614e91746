"""Celery tasks of the monitors app. Thin: they take plain values and call services.

The monitoring loop's tasks (the dispatcher, probe batches) are in ``loop.tasks``."""

from __future__ import annotations

from celery import shared_task

from monitors.engine import CheckRequest
from monitors.oneoff import one_off_start


@shared_task(ignore_result=True)
def run_one_off_check(check_id: str, check: dict, deadline: float, limit: float) -> bool:
    """A "Test now" (``monitors.oneoff``): start the check on this worker process's test
    loop and return at once, so a slow test never holds a worker thread. Its result is
    written to the database for the request waiting for it; after ``deadline`` (a Unix
    time) that request has given up and nothing runs."""
    return one_off_start(check_id, CheckRequest(**check), deadline=deadline, limit=limit)
