"""The dashboard (web/views/dashboard.py): tiles problems first, counts, paging, banners."""

from __future__ import annotations

import time
from datetime import timedelta

from django.utils import timezone

from lib.status import Status
from metrics import apps, health
from metrics.models import WorkerHeartbeat
from monitors.models import Monitor
from results.models import MonitorState
from tests.support.http_servers import refused_port
from tests.web.conftest import add_results
from tests.web.views.conftest import names_in_order
from web.views import dashboard as dashboard_views


def test_the_dashboard_shows_tiles_problems_first_and_counts(viewer, make_monitor, start):
    add_results(make_monitor(name="fine"), [Status.OK], start=start)
    add_results(make_monitor(name="broken"), [Status.FAILED], start=start)
    page = viewer.get("/dashboard").content.decode()
    assert page.index('data-name="broken"') < page.index('data-name="fine"')
    assert '<span class="summary-count">1</span> Good' in page
    assert '<span class="summary-count">1</span> Failure' in page


def test_the_dashboard_pages_its_tiles_and_counts_every_monitor(
    viewer, make_monitor, start, monkeypatch
):
    monkeypatch.setattr(dashboard_views, "TILES_PER_PAGE", 2)
    for name in ("a", "b", "c"):
        add_results(make_monitor(name=name), [Status.OK], start=start)
    add_results(make_monitor(name="z broken"), [Status.ERROR], start=start)
    make_monitor(name="new")  # never ran: Unknown
    make_monitor(name="off", enabled=False)
    MonitorState.objects.filter(monitor__name="new").delete()  # no state row at all

    first = viewer.get("/dashboard").content.decode()
    second = viewer.get("/dashboard?page=2").content.decode()
    live = viewer.get("/live/dashboard?page=3").content.decode()

    assert names_in_order(first, "tile") == ["z broken", "new"]  # problems first, then unknown
    assert names_in_order(second, "tile") == ["a", "b"]
    assert names_in_order(live, "tile") == ["c", "off"]
    for page in (first, second, live):
        assert '<span class="summary-count">3</span> Good' in page
        assert '<span class="summary-count">1</span> Error' in page
        assert '<span class="summary-count">1</span> Unknown' in page
        assert '<span class="summary-count">1</span> Disabled' in page
    assert "Tiles 1–2 of 6 · page 1 of 3" in first
    assert 'href="/dashboard?page=2" rel="next"' in first
    assert 'hx-get="/live/dashboard?page=2' in second  # the refresh stays on its page
    assert 'href="/dashboard?page=2" rel="prev"' in live  # links lead to the page, not the fragment


def test_a_tile_shows_the_status_the_last_value_and_the_uptime_of_an_enabled_monitor(
    viewer, make_monitor, start
):
    add_results(make_monitor(name="fine"), [Status.OK] * 3, start=start)  # last value 14.5
    add_results(make_monitor(name="down"), [Status.FAILED], start=start)  # value 0
    add_results(make_monitor(name="off", enabled=False), [Status.OK], start=start)
    make_monitor(name="new")
    page = viewer.get("/dashboard").content.decode()

    def tile_status(name: str) -> str:
        tile = page.split(f'data-name="{name}"')[1]
        return tile.split('<span class="tile-status">')[1].split("</span>")[0]

    assert tile_status("fine") == "Good · 14.5 ms"
    assert tile_status("down") == "Failure"  # a Failed run measured nothing: no "0 ms"
    assert tile_status("off") == "Disabled"
    assert tile_status("new") == "Unknown"

    def tile_uptime(name: str) -> str | None:
        tile = page.split(f'data-name="{name}"')[1].split("</li>")[0]
        if "tile-uptime" not in tile:
            return None
        return tile.split('<span class="tile-uptime"')[1].split(">")[1].split("<")[0]

    assert tile_uptime("fine") == "24 h: 100 %"
    assert tile_uptime("down") == "24 h: 0 %"
    assert tile_uptime("new") is None  # never ran: no uptime to show


def test_the_dashboard_warns_about_failing_alert_channels(viewer, make_monitor):
    from alerts.models import Channel

    Channel.objects.create(name="ops webhook", kind="webhook", failures_in_row=3, config={})
    page = viewer.get("/dashboard").content.decode()
    assert "1 alert channel failing" in page
    assert "ops webhook (3 failed attempts)" in page


def test_the_dashboard_says_when_nanomon_is_degraded_and_why(viewer, make_monitor, monkeypatch):
    monkeypatch.setattr(apps, "STARTED_MONOTONIC", time.monotonic() - 3600)  # past the grace
    now = timezone.now()
    WorkerHeartbeat.objects.create(name="celery@w1", last_seen_at=now - timedelta(seconds=1))
    make_monitor(name="fine", now=now)

    for path in ("/dashboard", "/live/dashboard"):
        assert 'data-banner="health"' not in viewer.get(path).content.decode()

    WorkerHeartbeat.objects.update(last_seen_at=now - timedelta(minutes=3))  # workers froze
    Monitor.objects.update(next_run_at=now - timedelta(minutes=2))
    for path in ("/dashboard", "/live/dashboard"):  # the page and its live refresh
        page = viewer.get(path).content.decode()
        banner = page.split('data-banner="health">', 1)[1].split("</div>", 1)[0]
        assert "NanoMon is degraded: results may be missing or late." in banner
        assert "No worker seen for 3m0s (limit 1m0s); dispatcher 2m0s behind schedule" in banner
        assert 'href="/api/status"' in banner


def test_the_dashboard_says_when_the_broker_is_unreachable(viewer, settings, monkeypatch):
    monkeypatch.setattr(apps, "STARTED_MONOTONIC", time.monotonic() - 3600)
    WorkerHeartbeat.objects.create(name="celery@w1", last_seen_at=timezone.now())
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{refused_port()}/0"
    health.forget_broker_check()
    try:
        page = viewer.get("/dashboard").content.decode()
    finally:
        health.forget_broker_check()

    assert "Broker unreachable." in page.split('data-banner="health">', 1)[1]
