"""The maintenance page: list with what is active, create (wall times in the window's own time
zone), edit, delete with a confirmation; escaped text; writes need the model permissions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from alerts.maintenance import window_save
from alerts.models import MaintenanceWindow
from tests.support.personas import EDITOR_PERMISSIONS, user_with
from tests.web.conftest import session_client

pytestmark = pytest.mark.django_db
WINDOW_PERMISSIONS = [
    f"alerts.{action}_maintenancewindow" for action in ("add", "change", "delete", "view")
]


@pytest.fixture
def planner():
    return session_client(user_with("planner", [*EDITOR_PERMISSIONS, *WINDOW_PERMISSIONS]))


def test_a_planner_creates_a_window_in_its_time_zone_edits_and_deletes_it(planner, make_monitor):
    monitor = make_monitor(name="db")

    answer = planner.post(
        "/maintenance/new",
        {
            "name": "upgrade",
            "reason": "<b>PostgreSQL</b>",
            "schedule": "once",
            "time_zone": "Europe/Berlin",
            "starts_at": "2026-07-01T02:00",
            "ends_at": "2026-07-01T04:00",
            "monitors": [monitor.pk],
        },
    )
    assert answer.status_code == 302, answer.content.decode()[-2000:]
    window = MaintenanceWindow.objects.get()
    # 02:00 in Berlin in July is 00:00 UTC.
    assert window.starts_at == datetime(2026, 7, 1, 0, 0, tzinfo=UTC)
    assert list(window.monitors.all()) == [monitor]

    page = planner.get("/maintenance").content.decode()
    assert "&lt;b&gt;PostgreSQL&lt;/b&gt;" in page
    assert "<b>PostgreSQL" not in page
    assert f'href="/monitors/{monitor.pk}"' in page

    form = planner.get(f"/maintenance/{window.pk}/edit").content.decode()
    assert 'value="2026-07-01 02:00:00"' in form or 'value="2026-07-01T02:00"' in form
    changed = planner.post(
        f"/maintenance/{window.pk}/edit",
        {"name": "weekly", "schedule": "weekly", "weekdays": ["1", "3"], "start_time": "02:00",
         "duration_minutes": "60", "time_zone": "UTC", "all_monitors": "on"},
    )  # fmt: skip
    assert changed.status_code == 302
    window.refresh_from_db()
    assert (window.cron_expression(), window.all_monitors) == ("0 2 * * 1,3", True)

    assert "Delete “weekly”?" in planner.get(f"/maintenance/{window.pk}/delete").content.decode()
    assert planner.post(f"/maintenance/{window.pk}/delete").status_code == 302
    assert MaintenanceWindow.objects.count() == 0


def test_a_window_that_cannot_work_is_shown_again_with_the_reason(planner):
    answer = planner.post(
        "/maintenance/new",
        {"name": "x", "schedule": "weekly", "start_time": "02:00", "duration_minutes": "60",
         "time_zone": "UTC"},
    )  # fmt: skip

    assert answer.status_code == 200
    assert "choose at least one weekday" in answer.content.decode()
    assert MaintenanceWindow.objects.count() == 0


def test_the_list_says_which_windows_are_active_now(viewer, make_monitor):
    now = timezone.now()
    window_save(MaintenanceWindow(name="now", starts_at=now - timedelta(minutes=5),
                                  ends_at=now + timedelta(hours=1), all_monitors=True))  # fmt: skip

    page = viewer.get("/maintenance").content.decode()

    assert "<strong>active</strong> until" in page
    assert "every monitor" in page
    assert "New window" not in page  # a viewer may not write


def test_viewers_may_not_write_and_anonymous_visitors_sign_in(viewer, anonymous):
    assert viewer.get("/maintenance/new").status_code == 403
    assert viewer.post("/maintenance/new", {"name": "x"}).status_code == 403
    assert anonymous.get("/maintenance").status_code == 302


def test_results_run_during_a_window_are_marked_on_the_monitor_page(viewer, make_monitor):
    from tests.web.conftest import add_results

    now = timezone.now()
    monitor = make_monitor(name="db")
    window_save(
        MaintenanceWindow(name="w", starts_at=now - timedelta(minutes=30),
                          ends_at=now - timedelta(minutes=10)),
        monitors=[monitor.pk],
    )  # fmt: skip
    add_results(monitor, [0, 2, 0], start=now - timedelta(minutes=40), every=timedelta(minutes=15))

    page = viewer.get(f"/monitors/{monitor.pk}").content.decode()

    # Runs at -40, -25 (inside the window) and -10 minutes (its end: outside).
    assert page.count('class="muted small maintenance-mark"') == 1


def test_the_monitor_page_says_when_a_window_covers_it_now(viewer, make_monitor):
    now = timezone.now()
    covered, other = make_monitor(name="db"), make_monitor(name="web")
    window_save(
        MaintenanceWindow(name="<upgrade>", reason="v17", starts_at=now - timedelta(minutes=5),
                          ends_at=now + timedelta(hours=1)),
        monitors=[covered.pk],
    )  # fmt: skip

    page = viewer.get(f"/monitors/{covered.pk}").content.decode()

    assert "In maintenance" in page
    assert "&lt;upgrade&gt;</a> until" in page
    assert "(v17)" in page
    assert "In maintenance" not in viewer.get(f"/monitors/{other.pk}").content.decode()
