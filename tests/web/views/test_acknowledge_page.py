"""Acknowledging from the pages: the monitor page's button, the confirmation page the down
mail links to (``/monitors/<id>/acknowledge``), and the "Down now" page."""

from __future__ import annotations

import uuid
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from alerts.models import AlertState
from loop.batches import batch_record
from monitors.engine import CheckResult, CheckStatus
from monitors.models import Monitor
from results.services import RunRecord
from tests.support.personas import EDITOR_PERMISSIONS, user_with
from tests.web.conftest import session_client

pytestmark = pytest.mark.django_db


def fail(monitor: Monitor, times: int = 3) -> None:
    for _ in range(times):
        token = uuid.uuid4()
        Monitor.objects.filter(pk=monitor.pk).update(run_token=token)
        now = timezone.now()
        check = CheckResult(
            status=CheckStatus.FAILED, value=0.0, message="connection <refused>", outputs=None,
            started_at=now, duration_seconds=0.01,
        )  # fmt: skip
        batch_record(
            token=token, runs=[RunRecord(monitor.pk, monitor.name, monitor.target, now, check)]
        )


@pytest.fixture
def responder():
    return session_client(user_with("responder", [*EDITOR_PERMISSIONS, "alerts.change_alertstate"]))


def test_acknowledging_from_the_confirmation_page(responder, make_monitor, settings):
    settings.ALERT_FAIL_COUNT = 3
    monitor = make_monitor(name="api")
    fail(monitor)

    detail = responder.get(f"/monitors/{monitor.pk}").content.decode()
    assert f'href="/monitors/{monitor.pk}/acknowledge"' in detail
    confirm = responder.get(f"/monitors/{monitor.pk}/acknowledge").content.decode()
    assert "Acknowledge “api”?" in confirm
    assert "connection &lt;refused&gt;" in confirm

    answer = responder.post(f"/monitors/{monitor.pk}/acknowledge", {"reason": "<i>rebooting</i>"})
    assert answer.status_code == 302
    standing = AlertState.objects.get(monitor=monitor)
    assert standing.acknowledged_reason == "<i>rebooting</i>"
    detail = responder.get(f"/monitors/{monitor.pk}").content.decode()
    assert "by responder: &lt;i&gt;rebooting&lt;/i&gt;" in detail
    down = responder.get("/alerts/active").content.decode()
    assert f'id="down-{monitor.pk}"' in down
    assert "&lt;i&gt;rebooting&lt;/i&gt;" in down


def test_a_monitor_that_is_not_down_has_nothing_to_acknowledge(responder, make_monitor):
    monitor = make_monitor()

    page = responder.get(f"/monitors/{monitor.pk}/acknowledge").content.decode()
    assert "nothing to acknowledge" in page
    assert responder.post(f"/monitors/{monitor.pk}/acknowledge", {}).status_code == 302
    assert "No monitor is down." in responder.get("/alerts/active").content.decode()


def test_viewers_see_the_outage_but_may_not_acknowledge(viewer, anonymous, make_monitor, settings):
    settings.ALERT_FAIL_COUNT = 3
    monitor = make_monitor()
    fail(monitor)

    assert "Down since" in viewer.get(f"/monitors/{monitor.pk}").content.decode()
    assert "/acknowledge" not in viewer.get("/alerts/active").content.decode()
    assert viewer.post(f"/monitors/{monitor.pk}/acknowledge", {}).status_code == 403
    # The mail's link sends a visitor who is not signed in to the sign-in page first.
    answer = anonymous.get(f"/monitors/{monitor.pk}/acknowledge")
    assert answer.status_code == 302
    assert "/login" in answer["Location"]


def test_down_since_is_in_the_viewers_zone_and_named(viewer, make_monitor, settings):
    """The viewer's zone (the ``nanomon_tz`` cookie) with its name, never a local time
    labelled UTC."""
    settings.ALERT_FAIL_COUNT = 3
    monitor = make_monitor()
    fail(monitor)
    changed = AlertState.objects.get(monitor=monitor).changed_at
    viewer.cookies["nanomon_tz"] = "Asia/Kolkata"
    kolkata = f"{changed.astimezone(ZoneInfo('Asia/Kolkata')):%Y-%m-%d %H:%M:%S} IST"

    for path in (f"/monitors/{monitor.pk}", "/alerts/active", "/alerts/history"):
        page = viewer.get(path).content.decode()
        assert kolkata in page, path
        assert f"{changed:%Y-%m-%d %H:%M} UTC" not in page, path
