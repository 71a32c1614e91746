"""``POST /api/monitors/{id}/acknowledge``: acknowledges the outage (reminders stop), 409 when
the monitor is not down, 404 unknown, 403 without ``alerts.change_alertstate``."""

from __future__ import annotations

import pytest

from alerts.models import AlertState
from tests.support.api import token_client
from tests.support.personas import EDITOR_PERMISSIONS, user_with

pytestmark = pytest.mark.django_db


@pytest.fixture
def responder(db):
    return token_client(user_with("responder", [*EDITOR_PERMISSIONS, "alerts.change_alertstate"]))


def test_acknowledging_a_down_monitor_records_who_when_and_why(responder, make_monitor, record):
    monitor = make_monitor()
    record(monitor, "FFF")

    answer = responder.post(
        f"/api/monitors/{monitor.pk}/acknowledge", {"reason": "disk full, cleaning"}, format="json"
    )

    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["state"], body["acknowledged_by"], body["reason"]) == (
        "down", "responder", "disk full, cleaning",
    )  # fmt: skip
    assert AlertState.objects.get(monitor=monitor).acknowledged_at is not None


def test_a_monitor_not_down_is_a_conflict_and_an_unknown_one_not_found(responder, make_monitor):
    monitor = make_monitor()

    conflict = responder.post(f"/api/monitors/{monitor.pk}/acknowledge", {}, format="json")
    assert conflict.status_code == 409
    assert conflict.headers["Content-Type"] == "application/problem+json"
    assert responder.post("/api/monitors/99999/acknowledge", {}, format="json").status_code == 404
    assert responder.post("/api/monitors/x/acknowledge", {}, format="json").status_code == 400


def test_viewers_may_not_acknowledge(viewer, make_monitor, record):
    monitor = make_monitor()
    record(monitor, "FFF")

    assert (
        viewer.post(f"/api/monitors/{monitor.pk}/acknowledge", {}, format="json").status_code == 403
    )
    assert AlertState.objects.get(monitor=monitor).acknowledged_at is None


def test_the_editor_role_may_acknowledge():
    from accounts.roles import EDITOR, role_grants

    assert role_grants(EDITOR, "alerts.change_alertstate")
