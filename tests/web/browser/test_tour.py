"""Every page, as each persona sees it, at desktop and phone widths: nothing broken, nothing
loaded from outside the server, every link on the way answering."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from lib.status import Status
from metrics.models import WorkerHeartbeat
from monitors.models import Monitor
from tests.support.personas import user_with
from tests.web.browser.conftest import PASSWORD, sign_in
from tests.web.conftest import add_results

pytestmark = pytest.mark.browser
PHONE = {"width": 375, "height": 812}


@pytest.fixture
def history(make_monitor):
    """A few monitors with results, one of each status."""
    start = timezone.now() - timedelta(minutes=30)
    wobble = [40 + (n * 37) % 23 + (n % 5) * 3 for n in range(30)]
    good = make_monitor(name="Website", target="https://example.net/", rule="status == 200")
    add_results(good, [Status.OK] * 25, start=start, values=wobble)
    flaky = make_monitor(name="API", target="https://api.example.net/health", rule="respTime < 300")
    add_results(
        flaky,
        [Status.OK] * 6
        + [Status.ERROR, Status.OK, Status.ERROR]
        + [Status.OK] * 5
        + [Status.ERROR],
        start=start,
        values=[180 + (n * 53) % 90 + (200 if n in (6, 8, 14) else 0) for n in range(15)],
    )
    down = make_monitor(name="Database port", kind="tcp", target="db.example.net:5432")
    add_results(down, [Status.OK] * 10 + [Status.FAILED] * 5, start=start, values=wobble)
    make_monitor(name="Gateway", kind="ping", target="192.0.2.1")
    make_monitor(name="DNS", kind="dns", target="example.net", enabled=False)
    # A worker runs them, as on a real installation: /api/health (linked from About) is 200.
    WorkerHeartbeat.objects.create(name="celery@tour", last_seen_at=timezone.now())
    Monitor.objects.update(next_run_at=timezone.now() + timedelta(minutes=1))
    return {"good": good, "flaky": flaky, "down": down}


def test_every_page_works_for_an_administrator(page, live_server, shot, history):
    user_with("root", [], is_staff=True, is_superuser=True)
    sign_in(page, live_server.url, "root")
    pages = {
        "monitors": "/",
        "dashboard": "/dashboard",
        "detail": f"/monitors/{history['flaky'].id}",
        "results": "/results",
        "new": "/monitors/new",
        "edit": f"/monitors/{history['good'].id}/edit",
        "delete": f"/monitors/{history['good'].id}/delete",
        "admin": "/manage",
        "about": "/about",
    }
    links: set[str] = set()
    for name, path in pages.items():
        response = page.goto(live_server.url + path)
        assert response.status == 200, path
        assert page.locator("h1").count() == 1
        shot(page, name)
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
            if urlsplit(href).netloc == urlsplit(live_server.url).netloc:
                links.add(href.split("#")[0])
    page.set_viewport_size(PHONE)
    for name in ("monitors", "dashboard", "detail", "results", "new", "admin", "about"):
        page.goto(live_server.url + pages[name])
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{name} scrolls sideways at 375px ({width}px)"
        shot(page, f"{name}-phone", full_page=False)
    # The pages linked from About that are not the dashboard's own load cleanly too.
    for path in ("/api/docs/", "/api/status"):
        assert page.goto(live_server.url + path).status == 200, path
    # No broken link anywhere on the way (downloads and the API included).
    for href in sorted(links):
        response = page.request.get(href)
        assert response.status == 200, f"{href} answered {response.status}: {response.text()[:300]}"


def test_the_detail_page_charts_every_period_and_links_its_images(page, live_server, shot, history):
    """Each period draws its chart (with axes), the live refresh keeps the period, and the
    chart and badge URLs open as images."""
    user_with("viewer", ["monitors.view_monitor"])
    sign_in(page, live_server.url, "viewer", PASSWORD)
    flaky = history["flaky"]
    page.goto(f"{live_server.url}/monitors/{flaky.id}?refresh=1")
    chart = page.locator("figure.chart svg.timechart")
    assert chart.is_visible()
    assert chart.locator(".chart-x-label").count() >= 4
    assert chart.locator(".chart-unit").text_content() == "ms"
    for period in ("1h", "7d", "30d", "90d", "365d", "24h"):
        page.get_by_role("navigation", name="Chart period").get_by_role(
            "link", name=period, exact=True
        ).click()
        page.wait_for_url(f"**/monitors/{flaky.id}?period={period}")
        assert page.locator(f'figure.chart[data-period="{period}"] svg').is_visible()
        assert page.locator(".period.current").inner_text() == period
    page.get_by_role("navigation", name="Chart period").get_by_role("link", name="1h").click()
    page.wait_for_url("**?period=1h")
    shot(page, "detail-1h")
    page.wait_for_timeout(2500)  # a live refresh or two (refresh=1): the period stays
    assert page.locator(".period.current").inner_text() == "1h"
    assert page.locator("figure.chart .chart-point").count() == 15  # a dot per run
    for path in (
        f"/api/monitors/{flaky.id}/chart.svg?period=24h",
        f"/api/chart.svg?ids={flaky.id},{history['good'].id}&period=1h",
        f"/api/badge/{flaky.id}/status",
        f"/api/badge/{flaky.id}/uptime/24h?style=for-the-badge",
    ):
        response = page.goto(live_server.url + path)
        assert response.status == 200, path
        assert response.headers["content-type"] == "image/svg+xml"
    shot(page, "badge", full_page=False)


def test_anonymous_visitors_see_the_sign_in_page(page, live_server, shot, db):
    page.goto(live_server.url + "/")
    assert urlsplit(page.url).path == "/login"
    assert page.get_by_role("heading", name="Sign in to NanoMon").is_visible()
    shot(page, "login")


def test_wrong_password_is_said_next_to_the_form(page, live_server, shot, db):
    user_with("viewer", ["monitors.view_monitor"])
    page.goto(live_server.url + "/login")
    page.get_by_label("Username").fill("viewer")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").is_visible()
    shot(page, "login-error")
    sign_in(page, live_server.url, "viewer", PASSWORD)
    assert page.get_by_role("heading", name="Monitors", exact=True).is_visible()
