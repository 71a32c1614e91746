"""Browser tests: Playwright driving Debian's chromium (``/usr/bin/chromium``, installed by
``bin/nanomon test``; Playwright never downloads a browser) against pytest-django's live
server.

Every page a test opens is watched: console errors, page errors, failed requests, any
request leaving the live server's origin, a page served without a Content-Security-Policy
header, and any violation of that policy (the ``securitypolicyviolation`` events) fail the
test. Screenshots go to ``artifacts/screenshots/<test>-<page>.png`` (git-ignored).

Saving a monitor asks for an immediate dispatch after commit; here that is a no-op, and tests
run due monitors themselves (``run_due_monitors``) while the page is open.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS

sync_api = pytest.importorskip("playwright.sync_api")

PASSWORD = "correct horse battery"
# Reports every Content-Security-Policy violation of every page and frame to the test. Init
# scripts and bindings are Playwright's (through the DevTools protocol): the policy does not
# apply to them.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__nanomonCspViolation(
    `${event.effectiveDirective} refused ${event.blockedURI || "inline"} ` +
    `at ${event.sourceFile || event.documentURI}:${event.lineNumber} ${event.sample}`
  );
}, true);
"""


@pytest.fixture(scope="module")
def browser():
    """One chromium per test module. Not per session: while Playwright's sync API is active,
    this thread has a running event loop, and the ORM refuses to run in the tests after."""
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (apt-get install chromium)")
    # Meanwhile the ORM calls the tests (and the database teardowns) make in this thread are
    # still ordinary blocking calls: tell Django so.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()


@dataclass
class Watch:
    """What went wrong in the browser while a test ran."""

    origin: str
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    outside_requests: list[str] = field(default_factory=list)
    bad_responses: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)
    pages_without_csp: list[str] = field(default_factory=list)

    def attach(self, page) -> None:
        page.on(
            "console",
            lambda message: (
                self.console_errors.append(f"{message.text} at {message.location.get('url')}")
                if message.type == "error"
                else None
            ),
        )
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.on("requestfailed", self._request_failed)
        page.on("request", self._check_origin)
        page.on("response", self._check_response)

    def _check_response(self, response) -> None:
        if response.status >= 400:
            self.bad_responses.append(f"{response.status} {response.url}")
        if (
            response.request.resource_type == "document"
            and response.url.startswith(self.origin)
            and "content-security-policy" not in response.headers
        ):
            self.pages_without_csp.append(response.url)

    def _request_failed(self, request) -> None:
        # A navigation cancels what the page it leaves was still loading: not a failure.
        if request.failure != "net::ERR_ABORTED":
            self.failed_requests.append(f"{request.url} {request.failure}")

    def _check_origin(self, request) -> None:
        url = request.url
        if url.startswith(("data:", "blob:", "about:")):
            return
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" != self.origin:
            self.outside_requests.append(url)

    def problems(self) -> dict[str, list[str]]:
        return {
            name: values
            for name, values in (
                ("console errors", self.console_errors),
                ("page errors", self.page_errors),
                ("failed requests", self.failed_requests),
                ("requests outside the server", self.outside_requests),
                ("error responses", self.bad_responses),
                ("Content-Security-Policy violations", self.csp_violations),
                ("pages without a Content-Security-Policy", self.pages_without_csp),
            )
            if values
        }


@pytest.fixture
def watch(live_server) -> Watch:
    return Watch(origin=live_server.url)


@pytest.fixture
def context(browser, watch):
    """A fresh browser context (cookies, storage) per test; the problems found fail it."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, timezone_id="Europe/Paris"
    )
    context.set_default_timeout(10_000)
    context.on("page", watch.attach)
    context.expose_binding(
        "__nanomonCspViolation", lambda source, report: watch.csp_violations.append(report)
    )
    context.add_init_script(CSP_LISTENER)
    yield context
    context.close()
    problems = watch.problems()
    assert not problems, f"browser problems: {problems}"


@pytest.fixture
def page(context):
    return context.new_page()


@pytest.fixture
def shot(request):
    """``shot(page, "monitors")`` saves ``artifacts/screenshots/<test>-monitors.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    test_name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)

    def take(page, name: str, *, full_page: bool = True) -> Path:
        path = SCREENSHOTS / f"{test_name}-{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    """Saves and imports ask for an immediate dispatch after commit: not through a broker
    here (tests call ``run_due_monitors``)."""
    monkeypatch.setattr("monitors.services.request_dispatch", lambda: None)
    monkeypatch.setattr("monitors.imports.request_dispatch", lambda: None)


def run_due_monitors() -> int:
    """Claim every due monitor and run it now, as the dispatcher and a worker would.

    In a thread of its own: Playwright's sync API keeps an event loop in the test's thread,
    and the engine starts its own.
    """
    from django.db import connection
    from django.utils import timezone

    from loop.tasks import run_probe_batch
    from monitors.scheduling import claim_due_monitors

    def run() -> int:
        try:
            token, claims = claim_due_monitors(
                now=timezone.now(), limit=1000, lease=timedelta(seconds=30)
            )
            if not claims:
                return 0
            return run_probe_batch(
                str(token),
                [[claim.monitor_id, claim.scheduled_for.isoformat()] for claim in claims],
            )
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result(timeout=60)


def sign_in(page, base_url: str, username: str, password: str = PASSWORD, next_path: str = "/"):
    page.goto(f"{base_url}/login?next={next_path}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
