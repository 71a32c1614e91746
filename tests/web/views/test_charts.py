"""Chart URLs (/api/monitors/{id}/chart.svg, /api/chart.svg) and the detail page's periods."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from lib.status import Status
from tests.support.personas import user_with
from tests.support.svg import classed, parse_svg, texts
from tests.web.conftest import add_results, session_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def site(make_monitor):
    monitor = make_monitor(name="Main <site>", interval="1m")
    start = timezone.now() - timedelta(minutes=50)
    add_results(monitor, [Status.OK] * 10, start=start, values=[40.0 + n for n in range(10)])
    # 20 minutes where nothing ran, then an Error and more runs.
    later = start + timedelta(minutes=30)
    add_results(monitor, [Status.ERROR] + [Status.OK] * 9, start=later, value=300.0)
    return monitor


def test_a_monitor_chart_is_an_svg_with_axes_gaps_and_bands(viewer, site):
    response = viewer.get(f"/api/monitors/{site.id}/chart.svg?period=1h")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert response["Cache-Control"] == "private, max-age=60"
    root = parse_svg(response.content)
    assert texts(root, "chart-title") == ["Main <site> · 1 hour"]
    assert len(texts(root, "chart-x-label")) >= 4
    assert texts(root, "chart-unit") == ["ms"]
    assert len(classed(root, "path", "chart-line")) == 2  # the 20 quiet minutes: a gap
    assert [band.get("class") for band in classed(root, "rect", "chart-band")] == [
        "chart-band status-error"
    ]
    # max_rtt=200, dynamic (the defaults): the 300 ms runs are cut at the 200 ms top.
    assert texts(root, "chart-y-label")[-1] == "200"


def test_max_rtt_and_dynamic_set_the_scale(viewer, site):
    def top(query: str) -> str:
        response = viewer.get(f"/api/monitors/{site.id}/chart.svg?period=1h&{query}")
        return texts(parse_svg(response.content), "chart-y-label")[-1]

    assert top("max_rtt=1000") == "400"  # fits the data (309 ms) up to the cap
    assert top("max_rtt=1000&dynamic=false") == "1,000"  # always up to the cap
    assert top("max_rtt=50") == "50"


def test_long_periods_draw_rollup_buckets(viewer, site):
    for period in ("24h", "7d", "30d", "90d", "365d"):
        response = viewer.get(f"/api/monitors/{site.id}/chart.svg?period={period}")
        assert response.status_code == 200, period
        root = parse_svg(response.content)
        assert classed(root, "path", "chart-line"), period
    week = parse_svg(viewer.get(f"/api/monitors/{site.id}/chart.svg?period=7d").content)
    assert classed(week, "polygon", "chart-range")  # the min/max band of the hour buckets


def test_several_monitors_share_a_chart_with_a_legend(viewer, site, make_monitor):
    other = make_monitor(name="API & co")
    add_results(other, [Status.OK] * 5, start=timezone.now() - timedelta(minutes=10))
    response = viewer.get(f"/api/chart.svg?ids={site.id},{other.id}&period=1h")
    assert response.status_code == 200
    root = parse_svg(response.content)
    assert texts(root, "chart-legend") == ["Main <site>", "API & co"]
    assert texts(root, "chart-title") == ["2 monitors · 1 hour"]
    assert len({path.get("stroke") for path in classed(root, "path", "chart-line")}) == 2


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("period=2h", "period must be one of 1h, 24h, 7d, 30d, 90d, 365d, got '2h'"),
        ("max_rtt=abc", "max_rtt must be a number, got 'abc'"),
        ("max_rtt=0", "max_rtt must be between 1 and 1e+07, got '0'"),
        ("max_rtt=nan", "max_rtt must be between 1 and 1e+07, got 'nan'"),
        ("dynamic=maybe", "dynamic must be true or false, got 'maybe'"),
        ("width=5", "width must be between 200 and 4000, got '5'"),
    ],
)
def test_bad_parameters_are_400_problems(viewer, site, query, detail):
    response = viewer.get(f"/api/monitors/{site.id}/chart.svg?{query}")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["detail"] == detail


def test_bad_ids_and_unknown_monitors(viewer, site):
    assert viewer.get("/api/chart.svg").json()["detail"].startswith("ids is required")
    assert viewer.get("/api/chart.svg?ids=1,x").status_code == 400
    assert viewer.get("/api/chart.svg?ids=" + ",".join(map(str, range(1, 12)))).status_code == 400
    missing = viewer.get(f"/api/chart.svg?ids={site.id},999999")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "no monitor 999999"
    assert viewer.get("/api/monitors/999999/chart.svg").status_code == 404


def test_charts_are_read_as_the_api_is(anonymous, site, settings, no_role_client):
    path = f"/api/monitors/{site.id}/chart.svg"
    assert anonymous.get(path).status_code == 401
    assert anonymous.get(f"/api/chart.svg?ids={site.id}").status_code == 401
    assert no_role_client.get(path).status_code == 403
    settings.NANOMON_PUBLIC_READ = True
    response = anonymous.get(path)
    assert response.status_code == 200
    assert response["Cache-Control"] == "public, max-age=60"


@pytest.fixture
def no_role_client(settings, db):
    settings.OIDC_DEFAULT_ROLE = ""
    return session_client(user_with("roleless", []))


# --- The detail page's periods -------------------------------------------------------------------


def test_the_detail_page_offers_periods(viewer, site):
    page = viewer.get(f"/monitors/{site.id}").content.decode()
    assert 'href="?period=24h" aria-current="true"' in page  # the default
    for period in ("1h", "7d", "30d", "90d", "365d"):
        assert f'href="?period={period}"' in page
    assert f"/live/monitors/{site.id}?period=24h&amp;table=1" in page  # the refresh keeps it
    hour = viewer.get(f"/monitors/{site.id}?period=1h").content.decode()
    assert "Values over 1 hour" in hour
    assert 'href="?period=1h" aria-current="true"' in hour
    assert f'href="/api/monitors/{site.id}/chart.svg?period=1h"' in hour
    assert hour.count('class="chart-point"') == 20  # a dot per run
    live = viewer.get(f"/live/monitors/{site.id}?period=7d").content.decode()
    assert "Values over 7 days" in live


def test_a_bad_period_shows_24_hours_and_says_why(viewer, site):
    page = viewer.get(f"/monitors/{site.id}?period=forever").content.decode()
    assert "Showing 24 hours: period must be one of" in page
    assert "Values over 24 hours" in page


def test_many_runs_are_drawn_as_five_minute_buckets_with_their_range(viewer, make_monitor):
    busy = make_monitor(name="busy", interval="10s")
    start = timezone.now() - timedelta(hours=3)
    add_results(busy, [Status.OK] * 1000, start=start, every=timedelta(seconds=10))
    root = parse_svg(viewer.get(f"/api/monitors/{busy.id}/chart.svg?period=24h").content)
    hovers = classed(root, "rect", "chart-hover")
    assert 30 <= len(hovers) <= 36  # 1,000 runs over 2 h 47 min: 5-minute buckets
    assert classed(root, "polygon", "chart-range")
    assert len(classed(root, "path", "chart-line")) == 1


def test_tz_sets_the_zone_of_the_time_axis(viewer, site):
    def first_label(query: str) -> str:
        response = viewer.get(f"/api/monitors/{site.id}/chart.svg?period=1h{query}")
        assert response.status_code == 200, response.content
        return texts(parse_svg(response.content), "chart-x-label")[0]

    utc, kolkata = first_label(""), first_label("&tz=Asia/Kolkata")
    assert utc != kolkata  # round times of each zone, 5 h 30 apart
    assert kolkata.endswith("0")
    bad = viewer.get(f"/api/monitors/{site.id}/chart.svg?tz=Mars/Olympus")
    assert bad.status_code == 400
    assert bad.json()["detail"] == "tz must be a time zone such as Europe/Paris, got 'Mars/Olympus'"
