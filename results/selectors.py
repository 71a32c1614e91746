"""Reads of results, newest first, built for tables of millions of rows.

Each query walks one index in order and stops after ``limit`` rows: a monitor's results use
``result_monitor_date_idx`` (monitor, -date), results across monitors ``result_date_idx``
(-date). Nothing counts raw rows: uptime and chart series read the rollups
(``results.history``: ``uptime_by_period(monitor_ids, periods=("24h", "7d", "30d", "90d",
"365d"), now=None) -> {monitor_id: {period: percent | None}}`` and ``rollup_series(monitor_id,
*, since, until, resolution) -> list[Bucket]``); ``uptime_percentages`` is kept for its callers
and reads them too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import F, Q, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from results.history import uptime_counts
from results.models import MonitorState, Result

RESULT_FIELDS = (
    "id",
    "date",
    "status",
    "value",
    "message",
    "monitor_id",
    "monitor_name",
    "monitor_target",
    "outputs",
)


def results_latest(
    *,
    limit: int,
    monitor_id: int | None = None,
    status: int | None = None,
    before: datetime | None = None,
    before_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Result]:
    """The newest ``limit`` results, of one monitor or of all, newest first; with ``status``,
    only the results of that status (across monitors this walks ``result_date_idx`` and skips
    the rows of other statuses, so a rare status reads further back).

    ``before`` keeps results strictly older than that date; with ``before_id`` too, results of
    exactly that date with a smaller id are kept as well (the ``(date, id)`` cursor of the
    row a previous page ended on, so paging never skips rows that share a date). ``since``
    (inclusive) and ``until`` (exclusive) keep the results of that time range.
    """
    results = Result.objects.only(*RESULT_FIELDS).order_by("-date", "-id")
    if monitor_id is not None:
        results = results.filter(monitor_id=monitor_id)
    if status is not None:
        results = results.filter(status=status)
    if before is not None:
        older = Q(date__lt=before)
        if before_id is not None:
            older |= Q(date=before, id__lt=before_id)
        # The redundant bound lets PostgreSQL start the index scan at ``before`` (it does not
        # derive one from the OR), instead of walking past every newer row.
        results = results.filter(older, date__lte=before)
    if since is not None:
        results = results.filter(date__gte=since)
    if until is not None:
        results = results.filter(date__lt=until)
    return list(results[:limit])


# --- Pages: sparklines, uptime, filtered lists ---------------------------------------------------


@dataclass(frozen=True)
class Point:
    """One run as charts draw it (``date`` None when the chart does not need it)."""

    date: datetime | None
    status: int
    value: float


def sparklines(monitor_ids: Sequence[int], *, points: int = 20) -> dict[int, list[Point]]:
    """The last ``points`` runs of each monitor (status and value), oldest first, in ONE query.

    Monitors without results are absent from the answer. On PostgreSQL a ``LATERAL`` join
    walks ``result_monitor_date_idx`` once per monitor and stops after ``points`` rows (20,000
    rows read for 1,000 monitors, however many results each has); elsewhere (SQLite) a
    ``ROW_NUMBER()`` window over the monitors' results does the same job more slowly. Dates
    stay in the database (``Point.date`` is None): turning 20,000 of them into Python
    datetimes cost more than the query.
    """
    ids = [int(monitor_id) for monitor_id in monitor_ids]
    if not ids or points <= 0:
        return {}
    if connection.vendor == "postgresql":
        rows = _sparkline_rows_lateral(ids, points)
    else:
        rows = (
            Result.objects.filter(monitor_id__in=ids)
            .annotate(
                rank=Window(
                    RowNumber(),
                    partition_by=[F("monitor_id")],
                    order_by=[F("date").desc(), F("id").desc()],
                )
            )
            .filter(rank__lte=points)
            .order_by("monitor_id", "-rank")
            .values_list("monitor_id", "status", "value")
        )
    series: dict[int, list[Point]] = defaultdict(list)
    for monitor_id, status, value in rows:  # oldest first within each monitor
        series[monitor_id].append(Point(date=None, status=status, value=value))
    return dict(series)


# Results are partitioned by day on PostgreSQL (results/partitions.py). A monitor's newest rows
# are looked for in the last days first, which reads only those days' partitions; the older
# partitions are read only for a monitor with fewer runs than that (a long interval, a new
# monitor): PostgreSQL's Append runs the second branch only when the LIMIT is not yet reached.
SPARKLINE_RECENT = timedelta(days=2)


def _sparkline_rows_lateral(ids: list[int], points: int) -> list[tuple]:
    table = connection.ops.quote_name(Result._meta.db_table)
    newest = (
        f"SELECT r.date, r.id, r.status, r.value FROM {table} r "  # noqa: S608
        "WHERE r.monitor_id = ids.monitor_id AND r.date {} %s "
        "ORDER BY r.date DESC, r.id DESC LIMIT %s"
    )
    query = (
        "SELECT ids.monitor_id, recent.status, recent.value "  # noqa: S608
        "FROM unnest(%s::bigint[]) AS ids(monitor_id) "
        "CROSS JOIN LATERAL ("
        f"  SELECT * FROM (({newest.format('>=')}) UNION ALL ({newest.format('<')})) AS runs "
        "  LIMIT %s"
        ") AS recent "
        "ORDER BY ids.monitor_id, recent.date, recent.id"
    )
    since = timezone.now() - SPARKLINE_RECENT
    with connection.cursor() as cursor:
        cursor.execute(query, [ids, since, points, since, points, points])
        return cursor.fetchall()


@dataclass(frozen=True)
class Uptime:
    """Share of OK runs among the runs that started within ``window`` before now."""

    window: timedelta
    runs: int
    ok_runs: int

    @property
    def percent(self) -> float | None:
        """None when there was no run in the window."""
        return 100.0 * self.ok_runs / self.runs if self.runs else None


def uptime_percentages(
    monitor_id: int, *, windows: Sequence[timedelta], now: datetime
) -> list[Uptime]:
    """Uptime of one monitor over each window (whole hours, e.g. 24 h, 7 d, 30 d), in ONE query
    over its rollups (``results.history.uptime_counts``: the last N UTC hours, the current one
    included)."""
    if not windows:
        return []
    periods = [f"{max(1, round(window / timedelta(hours=1)))}h" for window in windows]
    counts = uptime_counts([monitor_id], periods, now)[monitor_id]
    return [
        Uptime(window=window, runs=counts[period][1], ok_runs=counts[period][0])
        for window, period in zip(windows, periods, strict=True)
    ]


def monitor_memories(monitors: Sequence) -> dict[int, dict]:
    """What each of ``monitors`` (remembering types) kept from its last run: {id: memory};
    a monitor that remembers nothing yet is absent."""
    if not monitors:
        return {}
    return dict(
        MonitorState.objects.filter(
            monitor_id__in=[monitor.id for monitor in monitors], memory__isnull=False
        ).values_list("monitor_id", "memory")
    )
