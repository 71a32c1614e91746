"""Alert channels in a real browser: an admin opens Alerts from the nav, creates a webhook
channel from its kind's settings and tags, sends a test notification that a real receiver gets, sees
the channel's health, and deletes it after confirming; sets a monitor's alert policy on its
Alerting page and reads its outage there and in the alert history."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.configuration import channel_create
from alerts.models import Channel, MonitorAlertPolicy
from loop.batches import batch_record
from monitors.engine import CheckResult, CheckStatus
from monitors.models import Monitor
from results.services import RunRecord
from tests.support.personas import user_with
from tests.support.receivers import WebhookReceiver
from tests.web.browser.conftest import sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def admin_user(transactional_db):
    return user_with("boss", [], is_staff=True, is_superuser=True)


@pytest.fixture
def receiver():
    with WebhookReceiver() as running:
        yield running


def test_an_admin_creates_a_webhook_channel_tests_it_and_deletes_it(
    page, live_server, shot, admin_user, receiver
):
    base = live_server.url
    sign_in(page, base, "boss")
    page.get_by_role("link", name="Alerts", exact=True).click()
    page.get_by_role("heading", name="Alert channels").wait_for()

    page.get_by_role("link", name="New channel").click()
    page.get_by_label("Name", exact=True).fill("Team <hook>")
    page.get_by_label("Kind", exact=True).select_option("webhook")
    page.get_by_label("URL", exact=True).fill(receiver.url("/hook?state={STATE}"))
    page.get_by_label("Tags", exact=True).fill("prod, db prod")
    shot(page, "channel-form")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"/alerts/channels$"))
    page.get_by_text("Channel “Team <hook>” saved.").wait_for()
    row = page.locator("tr", has_text="Team <hook>")
    assert "not used yet" in row.inner_text()
    assert row.locator(".channel-tags").inner_text() == "db, prod"
    assert Channel.objects.get(name="Team <hook>").tags == ["db", "prod"]

    row.get_by_role("button", name="Send test").click()
    page.get_by_text("Team <hook>: test notification sent.").wait_for()
    (request,) = receiver.wait_for(1)
    assert (request.path, request.query["state"]) == ("/hook", "test")
    assert "OK, last sent" in page.locator("tr", has_text="Team <hook>").inner_text()
    shot(page, "channel-tested")

    page.locator("tr", has_text="Team <hook>").get_by_role("link", name="Delete").click()
    page.get_by_role("heading", name="Delete “Team <hook>”?").wait_for()
    page.get_by_role("button", name="Delete channel").click()
    page.get_by_text("Channel “Team <hook>” deleted.").wait_for()
    assert not Channel.objects.filter(name="Team <hook>").exists()


def test_an_admin_sets_a_monitors_policy_and_reads_its_outage(
    page, live_server, shot, admin_user, make_monitor, settings
):
    settings.ALERT_FAIL_COUNT = 2
    channel = channel_create(name="pager", kind="webhook", config={"url": "http://127.0.0.1:9/"})
    monitor = make_monitor(name="shop <api>")
    record_runs(monitor, "OFFO")
    base = live_server.url
    sign_in(page, base, "boss", next_path=f"/monitors/{monitor.pk}")

    page.get_by_role("link", name="Alerting", exact=True).click()
    page.get_by_role("heading", name="Alerting: shop <api>").wait_for()
    assert "down 30 s" in page.locator("section.outage").inner_text()
    page.get_by_label("Failures before down").fill("4")
    page.get_by_label("Notify the default channels").uncheck()
    page.get_by_role("group", name="Channels", exact=True).get_by_label("pager (Webhook)").check()
    page.get_by_role("button", name="Save policy").click()
    page.get_by_text("Alert policy saved").wait_for()
    shot(page, "monitor-alerting")
    policy = MonitorAlertPolicy.objects.get(monitor=monitor)
    assert policy.fail_threshold == 4
    assert list(policy.channels.all()) == [channel]

    page.get_by_role("link", name="Alerts", exact=True).click()
    page.get_by_role("link", name="Alert history").click()
    page.get_by_role("heading", name="Alert history").wait_for()
    assert "shop <api>" in page.locator("section.outage").inner_text()
    shot(page, "alert-history")


def record_runs(monitor: Monitor, codes: str) -> None:
    moment = timezone.now()
    for code in codes:
        failed = code == "F"
        token = uuid.uuid4()
        Monitor.objects.filter(pk=monitor.pk).update(run_token=token)
        result = CheckResult(
            status=CheckStatus.FAILED if failed else CheckStatus.OK,
            value=0.0 if failed else 12.5,
            message="connection refused" if failed else "",
            outputs=None,
            stored_outputs=None,
            started_at=moment,
            duration_seconds=0.01,
        )
        batch_record(
            token=token, runs=[RunRecord(monitor.pk, monitor.name, monitor.target, moment, result)]
        )
        moment += timedelta(seconds=30)
