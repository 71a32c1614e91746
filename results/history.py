"""History read from rollups (``results.models.Rollup``): uptime over periods, chart series.

- ``uptime_by_period(monitor_ids, periods=("24h", "7d", "30d", "90d", "365d"), now=None)``
  → ``{monitor_id: {period: percent or None}}``: OK runs / runs, both outside maintenance
  windows, None without such runs; every asked monitor is in the answer. ONE query for any
  number of monitors and periods.
- ``rollup_series(monitor_id, *, since, until, resolution)`` → ``list[Bucket]``, oldest first:
  the hour or day buckets that start in ``[since, until)`` (``since`` truncated to its hour or
  day). A bucket without runs is absent (a gap: nothing ran).

A period of N hours covers the last N UTC hours, the current one included (``24h`` at 14:20
reads 15:00 yesterday to now): whole days from day rollups and the hours before the first
whole day from hour rollups. Hour rollups are kept ``ROLLUP_HOURLY_RETENTION`` (31d): a
period reaching further back starts at its first UTC day (up to 23 hours more). Rollups count
every result exactly, so these are the raw rows' numbers at hour precision.

Uptime leaves out the runs that started inside a maintenance window covering the monitor
(counted apart in the rollups as they are stored, ``Rollup.runs_maintenance``): a window's
outage neither lowers nor raises it (docs/alerting.md, Maintenance and uptime).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import F, Q, Sum
from django.utils import timezone

from results.models import Rollup
from results.sketch import sketch_quantile

PERIODS = ("24h", "7d", "30d", "90d", "365d")
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
_PERIOD = re.compile(r"([1-9][0-9]{0,4})([hd])")


def period_hours(period: str) -> int:
    """``"24h"`` → 24, ``"7d"`` → 168; ValueError for anything else."""
    match = _PERIOD.fullmatch(period)
    if not match:
        raise ValueError(f"a period is a number of hours or days, e.g. 24h or 30d: {period!r}")
    number, unit = int(match[1]), match[2]
    return number * 24 if unit == "d" else number


def floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def floor_day(moment: datetime) -> datetime:
    return floor_hour(moment).replace(hour=0)


def hourly_retention() -> timedelta:
    """How far back hour rollups go (0: for ever, as far as ``datetime`` goes)."""
    seconds = settings.ROLLUP_HOURLY_RETENTION_SECONDS
    return timedelta(seconds=seconds) if seconds else timedelta.max


@dataclass(frozen=True)
class Bucket:
    """One hour or day of a monitor: runs by status and the measured values' figures (None
    when no run measured a value; p95 within ``results.sketch.RELATIVE_ERROR``)."""

    start: datetime
    runs_ok: int
    runs_error: int
    runs_failed: int
    runs_maintenance: int  # of all, those that started inside a maintenance window
    runs_maintenance_ok: int
    value_min: float | None
    value_avg: float | None
    value_max: float | None
    value_p95: float | None

    @property
    def runs(self) -> int:
        return self.runs_ok + self.runs_error + self.runs_failed

    @property
    def uptime(self) -> float | None:
        """Percent OK of the runs outside maintenance; None without such runs."""
        counted = self.runs - self.runs_maintenance
        return 100.0 * (self.runs_ok - self.runs_maintenance_ok) / counted if counted else None


def bucket_of(rollup: Rollup) -> Bucket:
    counted = rollup.value_count
    return Bucket(
        start=rollup.start,
        runs_ok=rollup.runs_ok,
        runs_error=rollup.runs_error,
        runs_failed=rollup.runs_failed,
        runs_maintenance=rollup.runs_maintenance,
        runs_maintenance_ok=rollup.runs_maintenance_ok,
        value_min=rollup.value_min if counted else None,
        value_avg=rollup.value_sum / counted if counted else None,
        value_max=rollup.value_max if counted else None,
        value_p95=sketch_quantile(
            rollup.sketch or {}, 0.95, low=rollup.value_min, high=rollup.value_max
        )
        if counted
        else None,
    )


def rollup_series(
    monitor_id: int, *, since: datetime, until: datetime, resolution: str
) -> list[Bucket]:
    """The monitor's ``resolution`` ("hour" or "day") buckets starting in ``[since, until)``,
    oldest first, in one query over the rollups' unique index."""
    if resolution not in Rollup.Resolution.values:
        raise ValueError(f"resolution is hour or day, not {resolution!r}")
    start = floor_hour(since) if resolution == Rollup.Resolution.HOUR else floor_day(since)
    rows = Rollup.objects.filter(
        monitor_id=monitor_id, resolution=resolution, start__gte=start, start__lt=until
    ).order_by("start")
    return [bucket_of(row) for row in rows]


def _window(hours: int, now: datetime) -> tuple[datetime, datetime | None]:
    """(first day row start, first hour row start or None) of a period of ``hours``."""
    first_hour = floor_hour(now) - (hours - 1) * HOUR
    first_day = floor_day(first_hour)
    if first_day == first_hour:
        return first_day, None
    if now - first_hour > hourly_retention():
        return first_day, None  # no hour rows that old: start at its day
    return first_day + DAY, first_hour


def uptime_counts(
    monitor_ids: Iterable[int], periods: Sequence[str] = PERIODS, now: datetime | None = None
) -> dict[int, dict[str, tuple[int, int]]]:
    """(OK runs, runs) outside maintenance of each monitor over each period, in ONE query over
    the rollups' unique index; every asked monitor is in the answer ((0, 0) without runs)."""
    ids = [int(monitor_id) for monitor_id in monitor_ids]
    now = now or timezone.now()
    windows = [_window(period_hours(period), now) for period in periods]
    answer = {monitor_id: dict.fromkeys(periods, (0, 0)) for monitor_id in ids}
    if not ids or not windows:
        return answer
    runs = F("runs_ok") + F("runs_error") + F("runs_failed") - F("runs_maintenance")
    ok = F("runs_ok") - F("runs_maintenance_ok")
    aggregates = {}
    # Read only the rows some period counts: the day rows of the longest period, and each
    # period's leading hours (at most 23 hour rows each, not every hour of the last 30 days).
    bounds = Q(resolution=Rollup.Resolution.DAY, start__gte=min(day for day, _ in windows))
    for index, (first_day, first_hour) in enumerate(windows):
        within = Q(resolution=Rollup.Resolution.DAY, start__gte=first_day)
        if first_hour is not None:
            hours = Q(resolution=Rollup.Resolution.HOUR, start__gte=first_hour, start__lt=first_day)
            within |= hours
            bounds |= hours
        aggregates[f"ok_{index}"] = Sum(ok, filter=within)
        aggregates[f"all_{index}"] = Sum(runs, filter=within)
    rows = (
        Rollup.objects.filter(bounds, monitor_id__in=ids, start__lte=now)
        .values("monitor_id")
        .order_by()
        .annotate(**aggregates)
    )
    for row in rows:
        answer[row["monitor_id"]] = {
            period: (row[f"ok_{index}"] or 0, row[f"all_{index}"] or 0)
            for index, period in enumerate(periods)
        }
    return answer


def uptime_by_period(
    monitor_ids: Iterable[int], periods: Sequence[str] = PERIODS, now: datetime | None = None
) -> dict[int, dict[str, float | None]]:
    """Uptime percent of each monitor over each period (see the module docstring), None for
    a period without runs; one query."""
    return {
        monitor_id: {
            period: 100.0 * ok / runs if runs else None for period, (ok, runs) in by.items()
        }
        for monitor_id, by in uptime_counts(monitor_ids, periods, now).items()
    }
