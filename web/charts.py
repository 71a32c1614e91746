"""Charts drawn on the server as SVG geometry (no JavaScript, no charting library).

Functions here turn runs into coordinates; ``monitors/_uptime.html`` draws the uptime bars,
the sparkline draws itself (``Sparkline.svg``: the monitors page has a hundred) and the
detail chart is ``web.timechart``'s drawing (the chart URLs' too). Colours come from the one
status map (``lib.status``) through CSS classes named after its labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from lib.formatting import format_number, format_percent
from lib.status import status_style
from monitors.models import Monitor
from monitors.probes import value_unit
from results.selectors import Point, Uptime
from web.history import Period, monitor_series
from web.timechart import ChartSpec, render_chart

# A dot per run on the detail chart up to this many runs (an hour at 10 s is 360).
DOTS_UP_TO = 400


def _number(value: float) -> str:
    """A coordinate to a tenth of a unit (``12.5``): finer than any screen shows."""
    return f"{value:.1f}"


@dataclass(frozen=True)
class Marker:
    x: str
    y: str
    key: str
    label: str
    value: str
    date: datetime | None


@dataclass(frozen=True)
class Sparkline:
    """A mini chart of a monitor's last runs: one line, non-OK runs marked."""

    width: int
    height: int
    line: str  # SVG polyline points
    markers: list[Marker]
    last: Marker | None
    summary: str  # for screen readers

    def svg(self) -> SafeString:
        """The chart's markup. Built here rather than by a template: the monitors page draws
        a thousand of them and every template variable costs."""
        if self.last is None:
            return mark_safe('<p class="sparkline-empty">No runs yet</p>')
        circles = "".join(
            f'<circle class="spark-marker status-{marker.key}" cx="{marker.x}" cy="{marker.y}" '
            'r="2.6"/>'
            for marker in self.markers
        )
        # Every interpolated value is a number or a status key made here (no user input),
        # except the summary, which format_html escapes.
        return format_html(
            '<svg class="sparkline" viewBox="0 0 {} {}" role="img" aria-label="Values of the {}">'
            '<polyline class="spark-line" points="{}"/>{}'
            '<circle class="spark-last status-{}" cx="{}" cy="{}" r="3.2"/></svg>',
            self.width,
            self.height,
            self.summary,
            self.line,
            mark_safe(circles),  # noqa: S308
            self.last.key,
            self.last.x,
            self.last.y,
        )


def _marker(point: Point, x: float, y: float) -> Marker:
    label, _ = status_style(point.status)
    return Marker(
        x=_number(x),
        y=_number(y),
        key=label.lower(),
        label=label,
        value=format_number(point.value),
        date=point.date,
    )


def sparkline(
    points: Sequence[Point], *, slots: int = 20, width: int = 240, height: int = 40
) -> Sparkline:
    """The last ``slots`` runs, oldest left; fewer runs fill the right-hand end."""
    points = list(points)[-slots:]
    if not points:
        return Sparkline(width, height, "", [], None, "no runs yet")
    pad = 3.0
    top = max(point.value for point in points) or 1.0
    step = (width - 2 * pad) / max(slots - 1, 1)
    first_slot = slots - len(points)
    coordinates = []
    markers = []
    for index, point in enumerate(points):
        x = pad + (first_slot + index) * step
        y = height - pad - (point.value / top) * (height - 2 * pad)
        coordinates.append(f"{_number(x)},{_number(y)}")
        if point.status != 0:
            markers.append(_marker(point, x, y))
    last = _marker(points[-1], *(float(part) for part in coordinates[-1].split(",")))
    failing = len(markers)
    summary = (
        f"last {len(points)} runs, latest value {last.value}, highest {format_number(top)}"
        + (f", {failing} not OK" if failing else ", all OK")
    )
    return Sparkline(width, height, " ".join(coordinates), markers, last, summary)


@dataclass(frozen=True)
class DetailChart:
    """The detail page's chart over a period (``web.timechart``, drawn as the chart URL is)."""

    svg: SafeString
    runs: int
    period: Period

    @property
    def empty(self) -> bool:
        return self.runs == 0


def detail_chart(monitor: Monitor, period: Period, now: datetime) -> DetailChart:
    """The monitor's values over ``period`` up to ``now``: runs for an hour or a day (a dot
    each when there are few), rollup buckets with their min/max band beyond."""
    series = monitor_series(monitor, period, now)
    runs = sum(sample.runs for sample in series.samples)
    spec = ChartSpec(
        since=now - period.span,
        until=now,
        unit=value_unit(monitor.kind),
        series=[series],
        # A dot per run for runs (not for buckets of them), while they are few enough.
        points=len(series.samples) <= DOTS_UP_TO
        and all(sample.low is None for sample in series.samples),
    )
    # Every text in the drawing is escaped by render_chart (web.timechart).
    return DetailChart(mark_safe(render_chart(spec)), runs, period)  # noqa: S308


@dataclass(frozen=True)
class UptimeBar:
    label: str
    percent: float | None
    text: str
    key: str
    runs: int


# Below these shares of OK runs a bar takes the Error, then the Failure colour.
UPTIME_GOOD_PERCENT = 99.0
UPTIME_ERROR_PERCENT = 95.0


def uptime_bars(uptimes: Sequence[Uptime], labels: Sequence[str]) -> list[UptimeBar]:
    bars = []
    for uptime, label in zip(uptimes, labels, strict=True):
        percent = uptime.percent
        if percent is None:
            bars.append(UptimeBar(label, None, "no runs", "unknown", 0))
            continue
        if percent >= UPTIME_GOOD_PERCENT:
            key = "good"
        elif percent >= UPTIME_ERROR_PERCENT:
            key = "error"
        else:
            key = "failure"
        text = format_percent(percent)
        bars.append(UptimeBar(label, percent, text, key, uptime.runs))
    return bars
