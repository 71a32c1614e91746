"""The chart drawing (web.timechart): a valid SVG document with a time axis, a value axis with
its unit, lines broken where nothing ran, status bands and min/max bands, escaped text."""

from __future__ import annotations

import xml.etree.ElementTree as ET
import zoneinfo
from datetime import UTC, datetime, timedelta

from django.utils import timezone

from tests.support.svg import SVG, classed, parse_svg, texts
from web.timechart import (
    ChartSpec,
    Sample,
    Series,
    nice_step,
    render_chart,
    time_ticks,
    value_ticks,
)

NOW = datetime(2026, 12, 6, 14, 20, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def runs(start: datetime, count: int, *, value: float = 40.0, status: int = 0) -> list[Sample]:
    return [
        Sample(
            start=start + index * MINUTE,
            end=start + (index + 1) * MINUTE,
            value=None if status == 2 else value + index,
            ok=int(status == 0),
            error=int(status == 1),
            failed=int(status == 2),
        )
        for index in range(count)
    ]


def chart(samples: list[Sample], **options) -> ET.Element:
    spec = ChartSpec(
        since=NOW - timedelta(hours=1),
        until=NOW,
        series=[Series("web", samples, gap_after=2.5 * MINUTE)],
        **options,
    )
    return parse_svg(render_chart(spec))


def test_the_axes_have_labelled_ticks_and_the_value_axis_its_unit():
    root = chart(runs(NOW - timedelta(minutes=50), 50))
    assert root.tag == f"{SVG}svg"
    assert texts(root, "chart-x-label")[:3] == ["13:20", "13:30", "13:40"]
    assert texts(root, "chart-y-label") == ["0", "25", "50", "75", "100"]
    assert texts(root, "chart-unit") == ["ms"]


def test_time_ticks_are_round_times_of_the_viewers_zone():
    with timezone.override(zoneinfo.ZoneInfo("Asia/Kolkata")):  # UTC+5:30
        labels = [label for _, label in time_ticks(NOW - timedelta(hours=1), NOW)]
    assert labels[0] == "18:50"
    assert all(label.endswith(("0", "5")) for label in labels)
    week = [label for _, label in time_ticks(NOW - timedelta(days=7), NOW)]
    assert week == ["Nov 30", "Dec 1", "Dec 2", "Dec 3", "Dec 4", "Dec 5", "Dec 6"]
    year = [label for _, label in time_ticks(NOW - timedelta(days=365), NOW)]
    assert "2026" in year
    assert "Jul" in year


def test_a_stretch_where_nothing_ran_breaks_the_line():
    before = runs(NOW - timedelta(minutes=50), 10)
    after = runs(NOW - timedelta(minutes=20), 10)  # 20 minutes without a run in between
    root = chart(before + after)
    paths = classed(root, "path", "chart-line")
    assert len(paths) == 2
    assert all(path.get("d").count("M") == 1 for path in paths)
    joined = chart(runs(NOW - timedelta(minutes=50), 20))
    assert len(classed(joined, "path", "chart-line")) == 1


def test_failed_runs_break_the_line_and_tint_the_background():
    samples = runs(NOW - timedelta(minutes=50), 5)
    samples += runs(NOW - timedelta(minutes=45), 3, status=2)
    samples += runs(NOW - timedelta(minutes=42), 5)
    samples += runs(NOW - timedelta(minutes=37), 1, status=1)
    root = chart(samples, points=True)
    assert len(classed(root, "path", "chart-line")) == 2
    bands = classed(root, "rect", "chart-band")
    assert [band.get("class") for band in bands] == [
        "chart-band status-failure",
        "chart-band status-error",
    ]
    titles = [point.find(f"{SVG}title").text for point in classed(root, "circle", "chart-point")]
    assert "41 ms · OK · 2026-12-06 13:31:00 UTC" in titles


def test_buckets_draw_an_average_line_inside_a_min_max_band():
    hour = timedelta(hours=1)
    buckets = [
        Sample(NOW - (24 - index) * hour, NOW - (23 - index) * hour, 50.0, ok=60, low=20, high=90)
        for index in range(24)
    ]
    spec = ChartSpec(
        since=NOW - 24 * hour, until=NOW, series=[Series("web", buckets, gap_after=1.5 * hour)]
    )
    root = parse_svg(render_chart(spec))
    assert len(classed(root, "polygon", "chart-range")) == 1
    tip = classed(root, "rect", "chart-hover")[0].find(f"{SVG}title").text
    assert "avg 50 ms" in tip
    assert "min 20 ms" in tip
    assert "max 90 ms" in tip
    assert "60 runs, 100 % OK" in tip


def test_the_value_scale_fits_the_data_up_to_max_rtt_or_stays_there():
    assert nice_step(23) == 25
    assert nice_step(0.3) == 0.5
    fitted = ChartSpec(since=NOW, until=NOW, y_max=200, dynamic=True)
    assert value_ticks(57, fitted)[0] == 60
    assert value_ticks(900, fitted)[0] == 200  # the cap
    fixed = ChartSpec(since=NOW, until=NOW, y_max=200, dynamic=False)
    assert value_ticks(57, fixed)[0] == 200
    free = ChartSpec(since=NOW, until=NOW)
    assert value_ticks(900, free)[0] == 1000


def test_every_text_is_escaped():
    spec = ChartSpec(
        since=NOW - timedelta(hours=1),
        until=NOW,
        title="<script>alert(1)</script> & co",
        series=[
            Series("<b>one</b>\x00", runs(NOW - timedelta(minutes=9), 9), 2.5 * MINUTE),
            Series('"two"', runs(NOW - timedelta(minutes=9), 9), 2.5 * MINUTE),
        ],
    )
    document = render_chart(spec)
    assert "<script>" not in document
    assert "<b>" not in document
    root = parse_svg(document)  # parses: escaped, and no NUL
    assert texts(root, "chart-title") == ["<script>alert(1)</script> & co"]
    assert texts(root, "chart-legend") == ["<b>one</b>", '"two"']
