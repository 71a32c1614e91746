"""The Content-Security-Policy (web/csp.py) as chromium enforces it: the pages that are not the
dashboard's own (the API docs, the browsable API and its sign-in, the Django admin, error
pages) break none of it, and a violation is noticed. The dashboard's pages are checked by every
other browser test: the watch (conftest.py) fails a test on any violation."""

from __future__ import annotations

import pytest

from tests.support.personas import user_with
from tests.web.browser.conftest import sign_in

pytestmark = pytest.mark.browser


def test_api_docs_admin_and_browsable_api_pages_keep_to_the_policy(
    page, live_server, watch, make_monitor
):
    monitor = make_monitor(name="Website", target="https://example.net/")
    page.goto(live_server.url + "/api/auth/login/")
    assert page.locator("form").count() >= 1
    user_with("root", [], is_staff=True, is_superuser=True)
    sign_in(page, live_server.url, "root")
    for path in (
        "/api/docs/",
        "/api/",
        "/api/monitors",  # DRF's filters button and forms
        f"/api/monitors/{monitor.id}",
        "/api/results",
        "/admin/",
        "/admin/monitors/monitor/",  # the status badges
        f"/admin/monitors/monitor/{monitor.id}/change/",
        "/about",
    ):
        response = page.goto(live_server.url + path)
        assert response.status == 200, path
        assert "script-src 'self' 'nonce-" in response.headers["content-security-policy"]
        page.wait_for_load_state("networkidle")
    page.goto(live_server.url + "/api/docs/")
    page.get_by_text("/api/monitors").first.wait_for()  # Swagger UI ran: its script is allowed
    # The browsable API's "Log out" is a form (DRF's inline onclick would be refused).
    page.goto(live_server.url + "/api/results")
    page.locator("a.dropdown-toggle", has_text="root").click()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_load_state()
    assert not [c for c in page.context.cookies() if c["name"] == "sessionid"]
    watch.bad_responses.clear()  # /api/results, signed out: 401
    watch.console_errors.clear()


def test_error_pages_keep_to_the_policy(page, live_server, watch, db):
    user_with("nobody", [])
    sign_in(page, live_server.url, "nobody")
    for path, status in (("/no-such-page", 404), ("/monitors/new", 403)):
        response = page.goto(live_server.url + path)
        assert response.status == status
        assert page.locator("h1").count() == 1
    # Asked for on purpose; chromium logs each as a console error too.
    assert len(watch.bad_responses) == len(watch.console_errors) == 2
    watch.bad_responses.clear()
    watch.console_errors.clear()


def test_a_violation_is_noticed(page, live_server, watch, db):
    page.goto(live_server.url + "/login")
    page.evaluate(
        """() => {
            document.body.insertAdjacentHTML("beforeend", '<p style="color: red">inline</p>');
            const script = document.createElement("script");
            script.textContent = "window.ranInline = true";
            document.body.append(script);
        }"""
    )
    page.wait_for_timeout(200)

    assert page.evaluate("window.ranInline") is None
    assert any("style-src-attr" in report for report in watch.csp_violations)
    assert any("script-src" in report for report in watch.csp_violations)
    watch.csp_violations.clear()  # caused on purpose
    watch.console_errors.clear()
