"""Badges at Uptime Kuma's paths (/api/badge/{id}/…): what they say, their parameters, and
that a monitor the caller may not read looks exactly like one that does not exist."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from lib.status import Status
from results.models import MonitorState
from tests.support.svg import SVG, parse_svg
from tests.web.conftest import add_results

pytestmark = pytest.mark.django_db


def said(response) -> list[str]:
    """The badge's texts (label, message), shadows aside."""
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "image/svg+xml"
    root = parse_svg(response.content)
    return [t.text for t in root.iter(f"{SVG}text") if t.get("aria-hidden") is None]


@pytest.fixture
def site(make_monitor):
    monitor = make_monitor(name="<script>alert(1)</script>")
    start = timezone.now() - timedelta(minutes=30)
    add_results(monitor, [Status.OK] * 3 + [Status.ERROR], start=start, values=[10, 20, 30, 40])
    MonitorState.objects.filter(monitor=monitor).update(
        last_status=Status.OK, last_outputs={"certExpiryDays": 41.7, "respTime": 40}
    )
    return monitor


def test_the_status_badge(viewer, site, make_monitor):
    assert said(viewer.get(f"/api/badge/{site.id}/status")) == ["Status", "Up"]
    MonitorState.objects.filter(monitor=site).update(last_status=Status.FAILED)
    assert said(viewer.get(f"/api/badge/{site.id}/status?downLabel=Broken")) == [
        "Status",
        "Broken",
    ]
    fresh = make_monitor(name="fresh")
    assert said(viewer.get(f"/api/badge/{fresh.id}/status")) == ["Status", "Pending"]
    paused = make_monitor(name="paused", enabled=False)
    assert said(viewer.get(f"/api/badge/{paused.id}/status")) == ["Status", "Paused"]


@pytest.mark.parametrize(
    ("duration", "label"),
    [
        ("", "Uptime (24h)"),
        ("/24", "Uptime (24h)"),
        ("/24h", "Uptime (24h)"),
        ("/7d", "Uptime (7d)"),
        ("/1y", "Uptime (1y)"),
        ("/2w", "Uptime (2w)"),
    ],
)
def test_the_uptime_badge_takes_uptime_kumas_durations(viewer, site, duration, label):
    assert said(viewer.get(f"/api/badge/{site.id}/uptime{duration}")) == [label, "75%"]


def test_minutes_round_up_to_the_hours_of_the_rollups(viewer, site):
    # 30m reads the current UTC hour (rollups are hourly): the label keeps the asked duration.
    assert said(viewer.get(f"/api/badge/{site.id}/uptime/30m"))[0] == "Uptime (30m)"


def test_labels_prefixes_and_suffixes(viewer, site):
    query = "labelPrefix=API+&labelSuffix=+hours&prefix=~&suffix=+percent"
    assert said(viewer.get(f"/api/badge/{site.id}/uptime/24?{query}")) == [
        "API Uptime (24 hours)",
        "~75 percent",
    ]
    assert said(viewer.get(f"/api/badge/{site.id}/uptime?label=<b>up</b>")) == [
        "<b>up</b>",
        "75%",
    ]


def test_ping_response_and_certificate_badges(viewer, site):
    assert said(viewer.get(f"/api/badge/{site.id}/ping/24")) == ["Avg. Ping (24h)", "25ms"]
    assert said(viewer.get(f"/api/badge/{site.id}/avg-response/24")) == [
        "Avg. Response (24h)",
        "25ms",
    ]
    assert said(viewer.get(f"/api/badge/{site.id}/response")) == ["Response", "40ms"]
    assert said(viewer.get(f"/api/badge/{site.id}/cert-exp")) == ["Cert Exp.", "41 days"]
    soon = viewer.get(f"/api/badge/{site.id}/cert-exp?warnDays=60&warnColor=orange")
    assert 'fill="#fe7d37"' in soon.content.decode()
    dated = said(viewer.get(f"/api/badge/{site.id}/cert-exp?date=true"))
    assert dated[1][:2] == "20"
    assert len(dated[1]) == 10  # YYYY-MM-DD


def test_a_badge_without_data_says_so(viewer, make_monitor):
    fresh = make_monitor(name="fresh")
    assert said(viewer.get(f"/api/badge/{fresh.id}/uptime")) == ["Uptime (24h)", "N/A"]
    assert said(viewer.get(f"/api/badge/{fresh.id}/response")) == ["Response", "N/A"]
    assert said(viewer.get(f"/api/badge/{fresh.id}/cert-exp")) == ["Cert Exp.", "No/Bad Cert"]


def test_the_monitors_name_never_appears_and_text_is_escaped(viewer, site):
    document = viewer.get(f"/api/badge/{site.id}/status?label=<script>x</script>").content
    assert b"<script>" not in document
    assert b"alert(1)" not in document  # a badge never names its monitor


def test_styles_and_colours(viewer, site):
    for style in ("flat", "flat-square", "plastic", "for-the-badge"):
        assert said(viewer.get(f"/api/badge/{site.id}/status?style={style}"))
    coloured = viewer.get(f"/api/badge/{site.id}/status?upColor=blue&labelColor=333").content
    assert b'fill="#007ec6"' in coloured
    assert b'fill="#333"' in coloured


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("status?style=social", "style must be one of flat, flat-square, plastic, for-the-badge"),
        ("status?upColor=javascript:x", "upColor must be a colour"),
        ("uptime/0", "duration must be a number of hours"),
        ("uptime/7x", "duration must be a number of hours"),
        ("uptime/11y", "duration must be at most 10 years"),
        ("cert-exp?warnDays=soon", "warnDays must be a whole number of days"),
        ("cert-exp?date=maybe", "date must be true or false"),
    ],
)
def test_bad_parameters_are_400_problems_for_known_and_unknown_monitors(viewer, site, path, detail):
    for monitor_id in (site.id, 999999):
        response = viewer.get(f"/api/badge/{monitor_id}/{path}")
        assert response.status_code == 400
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["detail"].startswith(detail)


def test_a_monitor_the_caller_may_not_read_looks_like_no_monitor(anonymous, viewer, site, settings):
    for route in ("status", "uptime/24h", "ping", "cert-exp", "response"):
        private = anonymous.get(f"/api/badge/{site.id}/{route}")
        unknown = viewer.get(f"/api/badge/999999/{route}")
        garbage = anonymous.get(f"/api/badge/not-a-number/{route}")
        assert said(private)[1] == "N/A"
        assert private.content == unknown.content == garbage.content
    settings.NANOMON_PUBLIC_READ = True
    response = anonymous.get(f"/api/badge/{site.id}/status")
    assert said(response) == ["Status", "Up"]
    assert response["Cache-Control"] == "public, max-age=60"
