"""Alert channels in a real browser: an admin opens Alerts from the nav, creates a webhook
channel from its kind's settings, sends a test notification that a real receiver gets, sees
the channel's health, and deletes it after confirming."""

from __future__ import annotations

import re

import pytest

from alerts.models import Channel
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
    shot(page, "channel-form")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"/alerts/channels$"))
    page.get_by_text("Channel “Team <hook>” saved.").wait_for()
    row = page.locator("tr", has_text="Team <hook>")
    assert "not used yet" in row.inner_text()

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
