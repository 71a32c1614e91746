"""Personas for the pages (admin, editor, viewer, anonymous), each with a signed-in Django
test client, and helpers to give monitors a history of results."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client

from lib.status import Status
from results.models import MonitorState, Result
from results.rollups import rollups_add


def session_client(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def admin(admin_user) -> Client:
    return session_client(admin_user)


@pytest.fixture
def editor(editor_user) -> Client:
    return session_client(editor_user)


@pytest.fixture
def viewer(viewer_user) -> Client:
    return session_client(viewer_user)


@pytest.fixture
def anonymous(db) -> Client:
    return Client()


def add_results(
    monitor,
    statuses: list[int],
    *,
    start: datetime,
    every: timedelta = timedelta(minutes=1),
    value: float = 12.5,
    values: list[float] | None = None,
) -> list[Result]:
    """Store one result per status, ``every`` apart from ``start`` (oldest first), and set the
    monitor's state to the last one, as a run would. Run ``n`` has the value ``values[n]``,
    or ``value + n`` (0 when Failed). The results count in the monitor's rollups, as a batch's
    do (``batch_record``)."""
    results = Result.objects.bulk_create(
        [
            Result(
                monitor=monitor,
                monitor_name=monitor.name,
                monitor_target=monitor.target,
                date=start + index * every,
                scheduled_for=start + index * every,
                status=status,
                value=0
                if status == Status.FAILED
                else (values[index] if values else value + index),
                message="" if status == Status.OK else f"problem {index}",
                outputs=None
                if status == Status.FAILED
                else {"respTime": value + index, "status": 200},
            )
            for index, status in enumerate(statuses)
        ]
    )
    rollups_add(results)
    last = results[-1]
    MonitorState.objects.update_or_create(
        monitor=monitor,
        defaults={
            "last_status": last.status,
            "last_run_at": last.date,
            "last_value": last.value,
            "last_message": last.message,
            "last_outputs": last.outputs,
        },
    )
    return results
