"""The maintenance page in a real browser: create a weekly window for one monitor, see it
listed with its next start, edit it, delete it with confirmation; a window named like a script
stays text. The page runs under the Content-Security-Policy with no violation (the fixtures
fail the test on any), and so does acknowledging an outage from the monitor page."""

from __future__ import annotations

import re
import uuid

import pytest
from django.utils import timezone

from alerts.models import AlertState, MaintenanceWindow
from loop.batches import batch_record
from monitors.engine import CheckResult, CheckStatus
from monitors.models import Monitor
from monitors.services import monitor_create
from results.services import RunRecord
from tests.support.personas import EDITOR_PERMISSIONS, user_with
from tests.web.browser.conftest import sign_in

pytestmark = pytest.mark.browser

XSS = "<script>alert(1)</script>"
PLANNER = [
    *EDITOR_PERMISSIONS,
    "alerts.add_maintenancewindow",
    "alerts.change_maintenancewindow",
    "alerts.delete_maintenancewindow",
    "alerts.view_maintenancewindow",
    "alerts.change_alertstate",
]


@pytest.fixture
def planner(transactional_db):
    return user_with("planner", PLANNER)


def test_a_planner_creates_edits_and_deletes_a_weekly_window(page, live_server, shot, planner):
    monitor_create(name="db", kind="tcp", target="127.0.0.1:9", interval="1m", enabled=False)
    base = live_server.url
    sign_in(page, base, "planner", next_path="/maintenance")
    page.get_by_role("link", name="Maintenance", exact=True).click()
    assert page.get_by_text("No maintenance windows.").is_visible()

    page.get_by_role("link", name="New window").click()
    page.get_by_label("Name", exact=True).fill(XSS)
    page.get_by_label("Schedule").select_option("weekly")
    page.get_by_label("Time zone").fill("Europe/Paris")
    page.get_by_label("Mon", exact=True).check()
    page.get_by_label("Thu", exact=True).check()
    page.get_by_label("Start time").fill("02:30")
    page.get_by_label("Duration minutes").fill("90")
    page.get_by_label("Monitors", exact=True).select_option(label="db")
    shot(page, "form")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"/maintenance$"))

    window = MaintenanceWindow.objects.get()
    assert (window.name, window.cron_expression(), window.time_zone) == (
        XSS, "30 2 * * 1,4", "Europe/Paris",
    )  # fmt: skip
    row = page.locator(f"#window-{window.pk}")
    assert XSS in row.inner_text()  # shown as text, never run
    assert "next " in row.locator(".window-now").inner_text()
    shot(page, "list")

    row.get_by_role("link", name="Edit").click()
    page.get_by_label("Name", exact=True).fill("nightly")
    page.get_by_label("All monitors").check()
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"/maintenance$"))
    assert "every monitor" in page.locator(f"#window-{window.pk}").inner_text()

    page.locator(f"#window-{window.pk}").get_by_role("link", name="Delete").click()
    page.get_by_role("heading", name="Delete “nightly”?").wait_for()
    page.get_by_role("button", name="Delete window").click()
    page.wait_for_url(re.compile(r"/maintenance$"))
    assert page.get_by_text("No maintenance windows.").is_visible()
    assert not MaintenanceWindow.objects.exists()


def test_acknowledging_an_outage_from_the_monitor_page(page, live_server, shot, planner, settings):
    settings.ALERT_FAIL_COUNT = 1
    monitor = monitor_create(
        name="api", kind="tcp", target="127.0.0.1:9", interval="1m", enabled=False
    )
    token = uuid.uuid4()
    Monitor.objects.filter(pk=monitor.pk).update(run_token=token)
    now = timezone.now()
    failed = CheckResult(
        status=CheckStatus.FAILED, value=0.0, message="connection refused", outputs=None,
        started_at=now, duration_seconds=0.01,
    )  # fmt: skip
    batch_record(token=token, runs=[RunRecord(monitor.pk, "api", monitor.target, now, failed)])

    base = live_server.url
    sign_in(page, base, "planner", next_path=f"/monitors/{monitor.pk}")
    page.get_by_role("link", name="Acknowledge", exact=True).click()
    page.get_by_label("Reason").fill("restarting the service")
    shot(page, "confirm")
    page.get_by_role("button", name="Acknowledge").click()
    page.wait_for_url(re.compile(rf"/monitors/{monitor.pk}$"))
    assert "by planner: restarting the service" in page.locator(".alert-state").inner_text()
    assert AlertState.objects.get(monitor=monitor).acknowledged_reason == "restarting the service"
    page.get_by_role("link", name="Down now").click()
    assert "restarting the service" in page.locator(f"#down-{monitor.pk}").inner_text()
    shot(page, "down-now")
