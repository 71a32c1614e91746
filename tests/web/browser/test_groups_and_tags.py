"""Groups and tags in a real browser: an admin gives a new monitor a group and tags on its form;
the monitors page and the dashboard show it in its group's section (named groups first, then
"No group"), and the tag filter keeps only the monitors with every tag asked for."""

from __future__ import annotations

import re

import pytest

from monitors.models import Monitor
from tests.support.personas import user_with
from tests.web.browser.conftest import sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def admin_user(transactional_db):
    return user_with("boss", [], is_staff=True, is_superuser=True)


def test_a_group_and_tags_set_on_the_form_make_sections_and_filter(
    page, live_server, shot, admin_user, make_monitor
):
    make_monitor(name="plain", target="http://127.0.0.1:9/plain")
    make_monitor(name="tagged db", target="http://127.0.0.1:9/db", tags=["db"])
    base = live_server.url
    sign_in(page, base, "boss")

    page.get_by_role("link", name="New", exact=True).click()
    page.get_by_role("link", name=re.compile("Website or HTTP API")).click()
    page.get_by_label("Name", exact=True).fill("edge <lb>")
    page.get_by_label("Target", exact=True).fill("http://127.0.0.1:9/edge")
    page.get_by_label("Group", exact=True).fill("Edge & CDN")
    page.get_by_label("Tags", exact=True).fill("prod, db prod")
    page.get_by_role("button", name="Create monitor").click()
    page.wait_for_url(re.compile(r"/monitors/\d+$"))
    created = Monitor.objects.get(name="edge <lb>")
    assert (created.group, created.tags) == ("Edge & CDN", ["db", "prod"])

    page.goto(f"{base}/")
    page.locator("h2.group-heading").first.wait_for()
    headings = [text.strip() for text in page.locator("h2.group-heading").all_inner_texts()]
    assert headings == ["Edge & CDN", "No group"]
    edge = page.locator("h2.group-heading", has_text="Edge & CDN")
    # The card follows its heading, before "No group" and the others' cards.
    first_list = edge.locator("xpath=following-sibling::ul[1]")
    assert "edge <lb>" in first_list.inner_text()
    assert "plain" not in first_list.inner_text()
    shot(page, "monitor-groups")

    page.get_by_label("Tags", exact=True).fill("db,prod")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"tag=db%2Cprod"))
    cards = page.locator(".card")
    assert cards.count() == 1
    assert "edge <lb>" in cards.inner_text()
    page.get_by_label("Tags", exact=True).fill("db")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"tag=db$"))
    assert page.locator(".card").count() == 2

    page.goto(f"{base}/dashboard")
    dashboard_headings = page.locator("h2.group-heading").all_inner_texts()
    assert [text.strip() for text in dashboard_headings] == ["Edge & CDN", "No group"]
    tiles_after_edge = page.locator("h2.group-heading", has_text="Edge & CDN").locator(
        "xpath=following-sibling::*[1]"
    )
    assert "edge <lb>" in tiles_after_edge.inner_text()
    shot(page, "dashboard-groups")
