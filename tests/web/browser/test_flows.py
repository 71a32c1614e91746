"""What people do in the dashboard, in a real browser: sign in, create an http monitor from a
template against a local server, test it, watch it turn Good without reloading, edit it (and
see a rule error inline), export, delete with confirmation, import it back; and a monitor
named like a script stays text everywhere."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import pytest

from monitors.models import Monitor
from results.models import Result
from tests.support.http_servers import build_test_app, serve_app
from tests.support.personas import EDITOR_PERMISSIONS, user_with
from tests.web.browser.conftest import run_due_monitors, sign_in

pytestmark = pytest.mark.browser

XSS = "<script>alert(1)</script>"
LIVE_WAIT_MS = 10_000  # the pages poll every second here (?refresh=1)


@pytest.fixture
def editor_user(transactional_db):
    return user_with("editor", EDITOR_PERMISSIONS)


@pytest.fixture
def target_server():
    with serve_app(build_test_app()) as server:
        yield server


def card(page, name: str):
    return page.locator(f'li.card[data-name="{name}"]')


def test_an_editor_creates_tests_watches_edits_exports_deletes_and_imports_a_monitor(
    page, live_server, shot, editor_user, target_server, tmp_path, tests_worker
):
    base = live_server.url
    sign_in(page, base, "editor")
    assert page.get_by_role("heading", name="Monitors", exact=True).is_visible()
    assert page.get_by_text("No monitors yet").is_visible()
    shot(page, "empty")

    # Create from the http template, with a one-off test first.
    page.get_by_role("link", name="New", exact=True).click()
    page.get_by_role("link", name=re.compile("Website or HTTP API")).click()
    assert page.get_by_label("Type", exact=True).input_value() == "http"
    page.get_by_label("Name", exact=True).fill("Local site")
    page.get_by_label("Target", exact=True).fill(target_server.url("/ok"))
    page.get_by_label("Rule", exact=True).fill("status == 200 &&")
    page.locator("#rule-check").get_by_text("rule invalid: unexpected end of expression").wait_for()
    shot(page, "rule-as-you-type")
    page.get_by_label("Rule", exact=True).fill("status == 200")
    page.locator("#rule-check").get_by_text("Rule is valid.").wait_for()
    page.get_by_role("button", name="Test now").click()
    page.locator("#test-result").get_by_text("Nothing was stored").wait_for()
    assert page.locator("#test-result .pill").inner_text() == "Good"
    shot(page, "test-now")
    assert not Monitor.objects.exists()
    page.get_by_role("button", name="Create monitor").click()
    page.wait_for_url(re.compile(r"/monitors/\d+$"))
    monitor = Monitor.objects.get()
    assert urlsplit(page.url).path == f"/monitors/{monitor.id}"
    assert page.get_by_text("created: it runs now").is_visible()

    # The list turns Good without a reload once the monitor has run.
    page.goto(f"{base}/?refresh=1")
    assert card(page, "Local site").locator(".pill").inner_text() == "Unknown"
    page.evaluate("window.stillTheSamePage = true")
    assert run_due_monitors() == 1
    card(page, "Local site").locator(".pill", has_text="Good").wait_for(timeout=LIVE_WAIT_MS)
    assert page.evaluate("window.stillTheSamePage") is True
    assert page.locator("#live-status").inner_text().startswith("Updated")
    assert card(page, "Local site").locator("svg.sparkline").count() == 1
    shot(page, "monitors-good")

    # Pausing stops the refresh; resuming picks it up again.
    page.get_by_role("button", name="Pause live updates").click()
    assert (
        page.get_by_role("button", name="Resume live updates").get_attribute("aria-pressed")
        == "true"
    )
    page.wait_for_timeout(1500)  # a refresh already under way lands before the change below
    Monitor.objects.filter(pk=monitor.id).update(enabled=False)
    page.wait_for_timeout(2500)
    assert card(page, "Local site").locator(".pill").inner_text() == "Good"
    page.get_by_role("button", name="Resume live updates").click()
    card(page, "Local site").locator(".pill", has_text="Disabled").wait_for(timeout=LIVE_WAIT_MS)
    Monitor.objects.filter(pk=monitor.id).update(enabled=True)

    # The detail page, then edit: a bad rule is said next to the field, a good one saves.
    card(page, "Local site").get_by_role("link", name="Local site").click()
    page.wait_for_url(f"{base}/monitors/{monitor.id}")
    assert page.locator("#chart-heading").inner_text() == "Values over 24 hours"
    assert page.get_by_role("link", name=target_server.url("/ok")).is_visible()
    shot(page, "detail")
    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Rule", exact=True).fill("status = 200")
    page.get_by_role("button", name="Save changes").click()
    error = page.locator("#id_rule_error")
    assert error.inner_text().startswith("rule invalid: ")
    assert page.get_by_role("alert").get_by_text("This monitor was not saved").is_visible()
    shot(page, "rule-error")
    page.get_by_label("Name", exact=True).fill("Local site (edited)")
    page.get_by_label("Rule", exact=True).fill("status == 200 && respTime < 5000")
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_url(f"{base}/monitors/{monitor.id}")
    assert page.get_by_role("heading", name="Local site (edited)").is_visible()
    monitor.refresh_from_db()
    assert monitor.rule == "status == 200 && respTime < 5000"

    # Export (a download), delete with confirmation, then import the file back.
    page.get_by_role("link", name="Admin").click()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export monitors").click()
    exported = tmp_path / "export.json"
    download_info.value.save_as(exported)
    assert [item["name"] for item in json.loads(exported.read_text())] == ["Local site (edited)"]
    page.goto(f"{base}/monitors/{monitor.id}")
    page.get_by_role("link", name="Delete").click()
    assert page.get_by_role("heading", name="Delete “Local site (edited)”?").is_visible()
    shot(page, "delete-confirm")
    assert Monitor.objects.exists()  # asking deletes nothing
    page.get_by_role("button", name="Delete monitor").click()
    page.wait_for_url(f"{base}/")
    assert page.get_by_text("No monitors yet").is_visible()
    assert not Monitor.objects.exists()
    assert not Result.objects.exists()

    page.get_by_role("link", name="Admin").click()
    page.get_by_label("JSON file").set_input_files(str(exported))
    page.get_by_role("button", name="Preview import").click()
    assert page.get_by_role("heading", name="1 monitor will be created").is_visible()
    shot(page, "import-preview")
    assert not Monitor.objects.exists()
    page.get_by_role("button", name="Import 1 monitor").click()
    page.wait_for_url(f"{base}/")
    assert page.get_by_text("Imported 1 monitor.").is_visible()
    assert card(page, "Local site (edited)").is_visible()
    shot(page, "imported")

    # Delete all monitors, with its confirmation.
    page.get_by_role("link", name="Admin").click()
    page.get_by_role("link", name="Delete all monitors…").click()
    shot(page, "delete-all-confirm")
    page.get_by_role("button", name="Delete all monitors").click()
    assert page.get_by_text("Deleted 1 monitor and their results.").is_visible()
    assert not Monitor.objects.exists()


def test_a_monitor_named_like_a_script_is_text_on_every_page(
    page, live_server, shot, make_monitor, transactional_db
):
    user_with("root", [], is_staff=True, is_superuser=True)
    monitor = make_monitor(name=XSS, target=f"https://example.net/?q={XSS}", rule="status == 200")
    Result.objects.create(
        monitor=monitor,
        monitor_name=XSS,
        monitor_target=monitor.target,
        date=monitor.created_at,
        scheduled_for=monitor.created_at,
        status=1,
        message=XSS,
        outputs={"x": XSS},
    )
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, live_server.url, "root")
    for name, path in (
        ("monitors", "/"),
        ("dashboard", "/dashboard"),
        ("detail", f"/monitors/{monitor.id}"),
        ("edit", f"/monitors/{monitor.id}/edit"),
        ("results", "/results"),
    ):
        page.goto(live_server.url + path)
        assert page.get_by_text(XSS).first.is_visible(), path
        shot(page, name)
    assert dialogs == []
    assert page.evaluate("document.querySelectorAll('script:not([src])').length") == 0
