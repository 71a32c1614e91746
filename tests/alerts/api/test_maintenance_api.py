"""``/api/maintenance``: CRUD of maintenance windows, validation as problems, permissions as
for monitors (editors and admins write, viewers read, anonymous callers are refused)."""

from __future__ import annotations

import pytest

from accounts.roles import EDITOR, role_grants
from alerts.models import MaintenanceWindow
from tests.support.api import token_client
from tests.support.personas import EDITOR_PERMISSIONS, user_with

pytestmark = pytest.mark.django_db
WINDOW_PERMISSIONS = [
    f"alerts.{action}_maintenancewindow" for action in ("add", "change", "delete", "view")
]


@pytest.fixture
def editor(db):
    """An editor persona with the editor role's maintenance permissions."""
    planner = user_with("planner", [*EDITOR_PERMISSIONS, *WINDOW_PERMISSIONS])
    return token_client(planner)


def test_the_editor_role_may_manage_windows():
    assert all(role_grants(EDITOR, permission) for permission in WINDOW_PERMISSIONS)


ONCE = {
    "name": "db upgrade",
    "reason": "PostgreSQL 17",
    "starts_at": "2026-03-02T10:00:00Z",
    "ends_at": "2026-03-02T12:00:00Z",
}


def test_an_editor_creates_reads_changes_and_deletes_a_window(editor, make_monitor):
    monitor = make_monitor()

    created = editor.post("/api/maintenance", {**ONCE, "monitors": [monitor.pk]}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["monitors"] == [monitor.pk]
    assert (body["schedule"], body["active"], body["next_start"]) == ("once", False, None)

    url = f"/api/maintenance/{body['id']}"
    assert editor.get(url).json()["name"] == "db upgrade"
    changed = editor.patch(
        url,
        {"schedule": "weekly", "weekdays": [1, 7], "start_time": "02:00",
         "duration_minutes": 60, "time_zone": "Europe/Berlin", "starts_at": None,
         "ends_at": None, "all_monitors": True, "monitors": []},
        format="json",
    )  # fmt: skip
    assert changed.status_code == 200, changed.content
    assert changed.json()["next_start"] is not None
    window = MaintenanceWindow.objects.get()
    assert (window.cron_expression(), window.all_monitors) == ("0 2 * * 1,7", True)
    assert [w["id"] for w in editor.get("/api/maintenance").json()] == [window.pk]

    assert editor.delete(url).status_code == 204
    assert editor.get(url).status_code == 404
    assert editor.get(url).headers["Content-Type"] == "application/problem+json"


def test_a_window_that_cannot_work_is_a_problem_naming_the_field(editor):
    answer = editor.post(
        "/api/maintenance",
        {"name": "x", "schedule": "cron", "cron": "99 * * * *", "duration_minutes": 5},
        format="json",
    )

    assert answer.status_code == 400
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert "cron" in answer.content.decode()
    assert MaintenanceWindow.objects.count() == 0


def test_viewers_read_but_do_not_write_and_anonymous_callers_do_neither(viewer, anonymous):
    assert viewer.get("/api/maintenance").status_code == 200
    assert viewer.post("/api/maintenance", ONCE, format="json").status_code == 403
    assert anonymous.get("/api/maintenance").status_code in (401, 403)
    assert MaintenanceWindow.objects.count() == 0


def test_the_routes_are_listed_and_in_the_schema(editor):
    routes = editor.get("/api/").json()
    assert routes["maintenance"].endswith("/api/maintenance")
    schema = editor.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert {"/api/maintenance", "/api/maintenance/{id}"} <= set(schema["paths"])
