"""A chart over time, drawn on the server as one SVG document: the detail page's chart and the
chart URLs (``/api/monitors/{id}/chart.svg``, ``/api/chart.svg``) are the same drawing.

- a time axis with ticks at round local times (the viewer's zone: ``13:00``, ``Dec 6``,
  ``Jan``), a value axis from 0 with round ticks and its unit (``ms``);
- a line per series that breaks where nothing ran (``Sample.start`` further from the previous
  one than the series' ``gap_after``, or a sample without a value: separate ``<path>``
  elements, never a line across the gap);
- status bands behind the lines: a sample with Error or Failed runs tints its time span;
- a min/max band around the line when the samples carry them (rollup buckets);
- a tooltip (``<title>``) per sample, and a legend when there are several series.

Styling is by presentation attributes (``fill=…``), not ``style``: the document stands alone
(an ``<img>`` in a README) and pages keep their CSP (``web.csp``: no inline styles). The page's
CSS may still override them through the ``class`` names. Every text is XML-escaped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from lib.formatting import format_datetime, format_number, format_percent, format_value
from lib.status import STATUS_STYLE, Status
from web.svg import xml_escape as escape

LINE_COLOURS = ("#3d6fb6", "#c2410c", "#0f766e", "#7c3aed", "#a16207", "#be185d", "#4d7c0f")
AXIS_COLOUR, GRID_COLOUR, TEXT_COLOUR = "#8a939c", "#dde2e7", "#5f6368"
ERROR_COLOUR = STATUS_STYLE[Status.ERROR][1]
FAILURE_COLOUR = STATUS_STYLE[Status.FAILED][1]
FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"'


@dataclass(frozen=True)
class Sample:
    """One run, or one bucket of runs (``low``/``high`` its min/max value)."""

    start: datetime
    end: datetime
    value: float | None  # the run's value or the bucket's average; None: nothing measured
    ok: int = 0
    error: int = 0
    failed: int = 0
    low: float | None = None
    high: float | None = None

    @property
    def runs(self) -> int:
        return self.ok + self.error + self.failed


@dataclass(frozen=True)
class Series:
    label: str
    samples: Sequence[Sample]
    gap_after: timedelta  # a longer step between two samples' starts is a gap


@dataclass
class ChartSpec:
    since: datetime
    until: datetime
    unit: str = "ms"
    y_max: float | None = None  # a cap (gosrvmon's MaxRttScale); None: fit the data
    dynamic: bool = True  # False: the scale always goes up to y_max
    width: int = 800
    height: int = 240
    title: str = ""
    bands: bool = True  # status bands (one series)
    points: bool = False  # a dot per sample (raw runs)
    series: list[Series] = field(default_factory=list)


# --- Scales -------------------------------------------------------------------------------------


def nice_step(rough: float) -> float:
    """The round step (1, 2, 2.5, 5 × 10ⁿ) nearest above ``rough``."""
    if rough <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(rough))
    for factor in (1, 2, 2.5, 5, 10):
        if factor * power >= rough:
            return factor * power
    return 10 * power


def value_ticks(highest: float, spec: ChartSpec) -> tuple[float, list[float]]:
    """The top of the value axis and its ticks (0 included)."""
    if spec.y_max is not None and not spec.dynamic:
        top = spec.y_max
    else:
        top = highest if highest > 0 else 1.0
        if spec.y_max is not None:
            top = min(top, spec.y_max)
    step = nice_step(top / 4)
    if spec.y_max is None or spec.dynamic:
        top = max(step, math.ceil(top / step - 1e-9) * step)
        if spec.y_max is not None:
            top = min(top, spec.y_max)
    count = int(top / step + 1e-9)
    ticks = [step * index for index in range(count + 1)]
    if top - ticks[-1] > step / 4:  # a cap off the steps (max_rtt=50 by 20s): labelled too
        ticks.append(top)
    elif top - ticks[-1] > 1e-9:
        ticks[-1] = top
    return top, ticks


_SUB_DAY_STEPS = (60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200)
_DAY_STEPS = (1, 2, 7, 14)


def time_ticks(since: datetime, until: datetime, most: int = 8) -> list[tuple[datetime, str]]:
    """Ticks at round local times between ``since`` and ``until``, with their labels."""
    span = (until - since).total_seconds()
    local_since = timezone.localtime(since)
    zone = local_since.tzinfo
    ticks: list[tuple[datetime, str]] = []
    sub_day = next((step for step in _SUB_DAY_STEPS if span / step <= most), None)
    if sub_day is not None:
        moment = local_since.replace(hour=0, minute=0, second=0, microsecond=0)
        moment += timedelta(
            seconds=math.ceil((local_since - moment).total_seconds() / sub_day) * sub_day
        )
        while moment <= until:
            local = timezone.localtime(moment)
            midnight = local.hour == 0 and local.minute == 0 and span > 6 * 3600
            ticks.append((moment, f"{local:%b} {local.day}" if midnight else f"{local:%H:%M}"))
            moment += timedelta(seconds=sub_day)
        return ticks
    days = next((step for step in _DAY_STEPS if span / 86400 / step <= most), None)
    if days is not None:
        day = local_since.date()
        while day.toordinal() % days or datetime.combine(day, datetime.min.time(), zone) < since:
            day += timedelta(days=1)
        while (moment := datetime.combine(day, datetime.min.time(), zone)) <= until:
            ticks.append((moment, f"{moment:%b} {moment.day}"))
            day += timedelta(days=days)
        return ticks
    months = 1 if span / 86400 / 30 <= most * 1.5 else 3
    year, month = local_since.year, local_since.month + 1
    while True:
        year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
        moment = datetime(year, month, 1, tzinfo=zone)
        if moment > until:
            return ticks
        if (month - 1) % months == 0:
            ticks.append((moment, str(year) if month == 1 else f"{moment:%b}"))
        month += 1


# --- Drawing ------------------------------------------------------------------------------------


def _n(number: float) -> str:
    return f"{number:.1f}"


def _segments(series: Series) -> list[list[Sample]]:
    """Runs of samples with values and no gap between them."""
    segments: list[list[Sample]] = []
    current: list[Sample] = []
    previous: Sample | None = None
    for sample in series.samples:
        if sample.value is None:
            if current:
                segments.append(current)
            current, previous = [], None
            continue
        if previous is not None and sample.start - previous.start > series.gap_after:
            segments.append(current)
            current = []
        current.append(sample)
        previous = sample
    if current:
        segments.append(current)
    return segments


def _tooltip(sample: Sample, spec: ChartSpec, label: str) -> str:
    value = format_value(sample.value, spec.unit)
    if sample.runs <= 1 and sample.low is None:
        status = "OK" if sample.ok else "Error" if sample.error else "Failed"
        parts = [label, value, status, format_datetime(sample.start)]
    else:
        parts = [
            label,
            f"{format_datetime(sample.start)} – {format_datetime(sample.end)}",
            f"avg {value}",
            f"min {format_value(sample.low, spec.unit)}",
            f"max {format_value(sample.high, spec.unit)}",
            f"{sample.runs} runs, {format_percent(100 * sample.ok / max(sample.runs, 1))} OK",
        ]
    return " · ".join(escape(part) for part in parts if part)


def render_chart(spec: ChartSpec) -> str:
    """The chart as a standalone SVG document (no XML declaration: it also goes inline)."""
    legend = len(spec.series) > 1
    left, right, top = 58, 16, 40 if spec.title else 22
    bottom = spec.height - (44 if legend else 24)
    plot_w, plot_h = spec.width - left - right, bottom - top
    start_s, span_s = spec.since.timestamp(), max((spec.until - spec.since).total_seconds(), 1)

    def x_of(moment: datetime) -> float:
        return left + min(max((moment.timestamp() - start_s) / span_s, 0.0), 1.0) * plot_w

    values = [
        number
        for series in spec.series
        for sample in series.samples
        for number in (sample.value, sample.high)
        if number is not None
    ]
    y_top, y_ticks = value_ticks(max(values, default=0.0), spec)

    def y_of(number: float) -> float:
        return bottom - min(max(number / y_top, 0.0), 1.0) * plot_h

    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="timechart" viewBox="0 0 {spec.width} '
        f'{spec.height}" width="{spec.width}" height="{spec.height}" role="img" {FONT} '
        f'font-size="11" aria-label="{escape(_summary(spec, values))}">',
        f"<title>{escape(spec.title or _summary(spec, values))}</title>",
        f'<rect class="chart-plot" x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" '
        'fill="#fff"/>',
    ]
    if spec.title:
        out.append(
            f'<text class="chart-title" x="{left}" y="17" font-size="13" font-weight="600" '
            f'fill="#1f2328">{escape(spec.title)}</text>'
        )
    if spec.bands and len(spec.series) == 1:
        out.extend(_bands(spec.series[0], x_of, top, plot_h))
    for tick in y_ticks:
        y = _n(y_of(tick))
        out.append(
            f'<line class="chart-grid" x1="{left}" x2="{left + plot_w}" y1="{y}" y2="{y}" '
            f'stroke="{GRID_COLOUR}"/><text class="chart-label chart-y-label" x="{left - 6}" '
            f'y="{y}" text-anchor="end" dominant-baseline="middle" fill="{TEXT_COLOUR}">'
            f"{escape(format_number(tick))}</text>"
        )
    out.append(
        f'<text class="chart-label chart-unit" x="{left - 6}" y="{top - 9}" text-anchor="end" '
        f'fill="{TEXT_COLOUR}">{escape(spec.unit)}</text>'
    )
    for moment, label in time_ticks(spec.since, spec.until, most=max(3, plot_w // 90)):
        x = _n(x_of(moment))
        if x_of(moment) > spec.width - 18:  # a label cut by the edge: the tick alone
            label = ""
        out.append(
            f'<line class="chart-tick" x1="{x}" x2="{x}" y1="{bottom}" y2="{bottom + 4}" '
            f'stroke="{AXIS_COLOUR}"/><text class="chart-label chart-x-label" x="{x}" '
            f'y="{bottom + 15}" text-anchor="middle" fill="{TEXT_COLOUR}">{escape(label)}</text>'
        )
    out.append(
        f'<line class="chart-axis" x1="{left}" x2="{left + plot_w}" y1="{bottom}" '
        f'y2="{bottom}" stroke="{AXIS_COLOUR}"/>'
    )
    for index, series in enumerate(spec.series):
        colour = LINE_COLOURS[index % len(LINE_COLOURS)]
        out.extend(_series(series, spec, colour, x_of, y_of))
    if legend:
        out.extend(_legend(spec, left, spec.height - 10))
    out.append("</svg>")
    return "".join(out)


def _bands(series: Series, x_of, top: int, plot_h: int) -> list[str]:
    """Error and Failed spans behind the lines, darker the larger their share of the runs
    (under 5 %, under half, or more); adjacent spans alike are merged."""
    spans: list[list] = []
    for sample in series.samples:
        if not (sample.error or sample.failed):
            continue
        key = "failure" if sample.failed >= sample.error else "error"
        share = (sample.error + sample.failed) / max(sample.runs, 1)
        opacity = "0.08" if share < 0.05 else "0.16" if share < 0.5 else "0.3"
        x1, x2 = x_of(sample.start), max(x_of(sample.end), x_of(sample.start) + 1.5)
        if spans and spans[-1][:2] == [key, opacity] and x1 - spans[-1][3] < 0.5:
            spans[-1][3] = x2
        else:
            spans.append([key, opacity, x1, x2])
    return [
        f'<rect class="chart-band status-{key}" x="{_n(x1)}" y="{top}" width="{_n(x2 - x1)}" '
        f'height="{plot_h}" fill="{FAILURE_COLOUR if key == "failure" else ERROR_COLOUR}" '
        f'fill-opacity="{opacity}"/>'
        for key, opacity, x1, x2 in spans
    ]


def _series(series: Series, spec: ChartSpec, colour: str, x_of, y_of) -> list[str]:
    out: list[str] = []
    label = escape(series.label)

    def mid(sample: Sample) -> float:
        if sample.end - sample.start > series.gap_after / 2:  # a bucket: its middle
            return (x_of(sample.start) + x_of(sample.end)) / 2
        return x_of(sample.start)

    segments = _segments(series)
    xs = {id(sample): _n(mid(sample)) for segment in segments for sample in segment}
    for segment in segments:
        if all(s.low is not None and s.high is not None for s in segment) and len(spec.series) == 1:
            upper = [f"{xs[id(s)]},{_n(y_of(s.high))}" for s in segment]
            lower = [f"{xs[id(s)]},{_n(y_of(s.low))}" for s in reversed(segment)]
            out.append(
                f'<polygon class="chart-range" points="{" ".join(upper + lower)}" '
                f'fill="{colour}" fill-opacity="0.18"/>'
            )
    for segment in segments:
        moves = [f"{xs[id(s)]},{_n(y_of(s.value))}" for s in segment]
        d = "M" + " L".join(moves) if len(moves) > 1 else f"M{moves[0]} h0.01"
        # Several monitors: the line says whose it is (a tooltip per bucket and monitor would
        # stack ten full-height cells on each other).
        title = f"<title>{label}</title>" if len(spec.series) > 1 else ""
        out.append(
            f'<path class="chart-line" d="{d}" fill="none" stroke="{colour}" stroke-width="2" '
            f'stroke-linejoin="round" stroke-linecap="round" data-series="{label}">{title}</path>'
        )
    name = series.label if len(spec.series) > 1 else ""
    if spec.points:
        for sample in series.samples:
            if sample.value is None:
                continue
            fill = colour if not (sample.error or sample.failed) else ERROR_COLOUR
            out.append(
                f'<circle class="chart-point" cx="{_n(mid(sample))}" cy="{_n(y_of(sample.value))}" '
                f'r="3" fill="{fill}" stroke="#fff"><title>{_tooltip(sample, spec, name)}</title>'
                "</circle>"
            )
        return out
    if len(spec.series) > 1:
        return out
    for sample in _hover_cells(series.samples):
        x1, x2 = x_of(sample.start), x_of(sample.end)
        out.append(
            f'<rect class="chart-hover" x="{_n(x1)}" y="0" width="{_n(max(x2 - x1, 1))}" '
            f'height="{spec.height}" fill="transparent"><title>{_tooltip(sample, spec, name)}'
            "</title></rect>"
        )
    return out


HOVER_CELLS = 200  # tooltips of buckets: a cell under 4 px is no use, and each costs


def _hover_cells(samples: Sequence[Sample]) -> list[Sample]:
    """The buckets with runs, merged by runs of ``k`` neighbours so there are at most
    ``HOVER_CELLS`` (30 days of hours: one tooltip per 4 hours): weighted average, min, max."""
    ran = [sample for sample in samples if sample.runs]
    size = max(1, math.ceil(len(ran) / HOVER_CELLS))
    if size == 1:
        return ran
    cells = []
    for index in range(0, len(ran), size):
        group = ran[index : index + size]
        measured = [(s.value, s.ok + s.error) for s in group if s.value is not None]
        weight = sum(count for _, count in measured)
        lows = [s.low if s.low is not None else s.value for s in group if s.value is not None]
        highs = [s.high if s.high is not None else s.value for s in group if s.value is not None]
        cells.append(
            Sample(
                start=group[0].start,
                end=group[-1].end,
                value=sum(v * c for v, c in measured) / weight if weight else None,
                ok=sum(s.ok for s in group),
                error=sum(s.error for s in group),
                failed=sum(s.failed for s in group),
                low=min(lows, default=None),
                high=max(highs, default=None),
            )
        )
    return cells


def _legend(spec: ChartSpec, left: int, y: int) -> list[str]:
    out, x = [], float(left)
    for index, series in enumerate(spec.series):
        colour = LINE_COLOURS[index % len(LINE_COLOURS)]
        text = series.label if len(series.label) <= 40 else series.label[:39] + "…"
        out.append(
            f'<rect class="chart-key" x="{_n(x)}" y="{y - 8}" width="12" height="4" '
            f'fill="{colour}"/><text class="chart-legend" x="{_n(x + 16)}" y="{y}" '
            f'fill="#1f2328">{escape(text)}</text>'
        )
        x += 28 + 6.5 * len(text)
    return out


def _summary(spec: ChartSpec, values: list[float]) -> str:
    runs = sum(sample.runs for series in spec.series for sample in series.samples)
    text = f"{format_datetime(spec.since)} to {format_datetime(spec.until)}: {runs} runs"
    if values:
        text += (
            f", values from {format_value(min(values), spec.unit)} to "
            f"{format_value(max(values), spec.unit)}"
        )
    return text
