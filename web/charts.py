"""Charts drawn on the server as SVG geometry (no JavaScript, no charting library).

Functions here turn runs into coordinates; the templates (``monitors/_detail_chart.html``,
``monitors/_uptime.html``) draw them, except the sparkline, which draws itself
(``Sparkline.svg``: the monitors page has a hundred). Colours come from the one
status map (``lib.status``) through CSS classes named after its labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from lib.status import status_style
from results.selectors import Point, Uptime


def _number(value: float) -> str:
    """A coordinate to a tenth of a unit (``12.5``): finer than any screen shows."""
    return f"{value:.1f}"


def format_value(value: float) -> str:
    """A run's value for people: ``12.3``, ``1,204``, ``0.42``."""
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}".rstrip("0").rstrip(".") or "0"


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
        value=format_value(point.value),
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
    summary = f"last {len(points)} runs, latest value {last.value}, highest {format_value(top)}" + (
        f", {failing} not OK" if failing else ", all OK"
    )
    return Sparkline(width, height, " ".join(coordinates), markers, last, summary)


@dataclass(frozen=True)
class Band:
    x: str
    width: str
    key: str


@dataclass(frozen=True)
class GridLine:
    y: str
    label: str


@dataclass(frozen=True)
class DetailChart:
    """The detail page's chart: values as a line over bands coloured by each run's status."""

    width: int
    height: int
    plot_left: int
    plot_top: int
    plot_bottom: int
    line: str
    bands: list[Band]
    points: list[Marker]
    grid: list[GridLine]
    first: datetime | None
    last: datetime | None
    summary: str

    @property
    def empty(self) -> bool:
        return not self.points

    @property
    def plot_height(self) -> int:
        return self.plot_bottom - self.plot_top


def detail_chart(points: Sequence[Point], *, width: int = 800, height: int = 200) -> DetailChart:
    """Runs oldest first, evenly spaced (one slot per run, as NanoMon's chart)."""
    points = list(points)
    left, right, top, bottom = 52, 8, 8, height - 8
    if not points:
        return DetailChart(width, height, left, top, bottom, "", [], [], [], None, None, "")
    highest = max(point.value for point in points) or 1.0
    plot_width = width - left - right
    step = plot_width / len(points)
    line, bands, markers = [], [], []
    counts = {"good": 0, "error": 0, "failure": 0}
    for index, point in enumerate(points):
        x = left + step * (index + 0.5)
        y = bottom - (point.value / highest) * (bottom - top)
        line.append(f"{_number(x)},{_number(y)}")
        marker = _marker(point, x, y)
        markers.append(marker)
        counts[marker.key] = counts.get(marker.key, 0) + 1
        bands.append(Band(x=_number(left + step * index), width=_number(step), key=marker.key))
    grid = [
        GridLine(
            y=_number(bottom - fraction * (bottom - top)), label=format_value(highest * fraction)
        )
        for fraction in (0.0, 0.5, 1.0)
    ]
    summary = (
        f"{len(points)} runs, values from {format_value(min(p.value for p in points))} to "
        f"{format_value(highest)}; {counts['good']} good, {counts['error']} error, "
        f"{counts['failure']} failure"
    )
    return DetailChart(
        width,
        height,
        left,
        top,
        bottom,
        " ".join(line),
        bands,
        markers,
        grid,
        points[0].date,
        points[-1].date,
        summary,
    )


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
        text = f"{percent:.2f} %" if percent < 100 else "100 %"
        bars.append(UptimeBar(label, percent, text, key, uptime.runs))
    return bars
