"""A monitor's history over a period, as charts draw it (``web.timechart``).

The periods the detail page offers and the chart URLs take (``?period=``):

========  =====================================  ======================================
period    drawn from                             a point is
========  =====================================  ======================================
``1h``    raw results                            one run
``24h``   raw results                            one run (up to 20,000; else rollups)
``7d``    hour rollups (``results.history``)     an hour: average, min/max band
``30d``   hour rollups                           an hour: average, min/max band
``90d``   day rollups                            a day: average, min/max band
``365d``  day rollups                            a day: average, min/max band
========  =====================================  ======================================

A gap in the line is a stretch where nothing ran: for runs, more than 2.5 intervals of the
monitor between two runs; for rollups, a missing hour or day. Failed runs measured nothing:
they break the line and tint the background (status bands), as Error runs do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from lib.durations import parse_duration
from monitors.models import Monitor
from monitors.probes import value_unit
from results.history import rollup_series
from results.points import results_between
from web.timechart import Sample, Series

RAW_LIMIT = 20_000
# More runs than this (24 hours at less than 2 minutes) are drawn as BUCKETS buckets (5
# minutes for 24 hours): average, min/max band and status counts, as rollups are.
MOST_RUNS_DRAWN = 720
BUCKETS = 288


@dataclass(frozen=True)
class Period:
    key: str
    label: str  # "24 hours"
    span: timedelta
    resolution: str | None  # None: raw runs; else "hour" or "day" rollups


PERIODS: dict[str, Period] = {
    period.key: period
    for period in (
        Period("1h", "1 hour", timedelta(hours=1), None),
        Period("24h", "24 hours", timedelta(hours=24), None),
        Period("7d", "7 days", timedelta(days=7), "hour"),
        Period("30d", "30 days", timedelta(days=30), "hour"),
        Period("90d", "90 days", timedelta(days=90), "day"),
        Period("365d", "365 days", timedelta(days=365), "day"),
    )
}
DEFAULT_PERIOD = "24h"
BUCKET = {"hour": timedelta(hours=1), "day": timedelta(days=1)}


def period_of(key: str | None, default: str = DEFAULT_PERIOD) -> Period:
    """The period named ``key``; ``ValueError`` naming the choices for anything else."""
    if key in (None, ""):
        return PERIODS[default]
    try:
        return PERIODS[key]
    except (KeyError, TypeError):
        raise ValueError(f"period must be one of {', '.join(PERIODS)}, got {key!r}") from None


def interval_seconds(monitor: Monitor) -> float:
    try:
        return max(parse_duration(monitor.interval), 1.0)
    except ValueError:
        return 60.0


def monitor_series(monitor: Monitor, period: Period, until: datetime) -> Series:
    """The monitor's samples over ``period`` ending at ``until``."""
    since = until - period.span
    if period.resolution is None:
        step = timedelta(seconds=interval_seconds(monitor))
        points = results_between(monitor.id, since=since, until=until, limit=RAW_LIMIT)
        samples = [
            Sample(
                start=point.date,
                end=point.date + step,
                value=None if point.status == 2 else point.value,
                ok=int(point.status == 0),
                error=int(point.status == 1),
                failed=int(point.status == 2),
            )
            for point in points
        ]
        if len(samples) > MOST_RUNS_DRAWN:
            size = period.span / BUCKETS
            buckets = _bucketed(samples, since, size)
            return Series(monitor.name, buckets, gap_after=max(size * 1.5, step * 2.5))
        return Series(monitor.name, samples, gap_after=step * 2.5)
    bucket = BUCKET[period.resolution]
    samples = [
        Sample(
            start=row.start,
            end=row.start + bucket,
            value=row.value_avg,
            ok=row.runs_ok,
            error=row.runs_error,
            failed=row.runs_failed,
            low=row.value_min,
            high=row.value_max,
        )
        for row in rollup_series(monitor.id, since=since, until=until, resolution=period.resolution)
    ]
    return Series(monitor.name, samples, gap_after=bucket * 1.5)


def _bucketed(samples: list[Sample], since: datetime, size: timedelta) -> list[Sample]:
    groups: dict[int, list[Sample]] = {}
    for sample in samples:
        groups.setdefault(int((sample.start - since) / size), []).append(sample)
    buckets = []
    for index, group in sorted(groups.items()):
        values = [sample.value for sample in group if sample.value is not None]
        buckets.append(
            Sample(
                start=since + index * size,
                end=since + (index + 1) * size,
                value=sum(values) / len(values) if values else None,
                ok=sum(sample.ok for sample in group),
                error=sum(sample.error for sample in group),
                failed=sum(sample.failed for sample in group),
                low=min(values, default=None),
                high=max(values, default=None),
            )
        )
    return buckets


def unit_of(monitors: list[Monitor]) -> str:
    units = {value_unit(monitor.kind) for monitor in monitors}
    return units.pop() if len(units) == 1 else ""
