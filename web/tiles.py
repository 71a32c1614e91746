"""A monitor as the dashboard shows it (a tile) and as the monitors page shows it (a card)."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse

from lib.status import Status, status_key
from monitors.models import Monitor
from results.history import uptime_by_period
from web.charts import Sparkline

NOT_OK = (Status.ERROR, Status.FAILED)


@dataclass(frozen=True)
class MonitorTile:
    """A monitor as the dashboard shows it (``nanomon.dashboard_tile``)."""

    monitor: Monitor
    status: int | None
    key: str
    url: str
    uptime: float | None  # percent of OK runs over the last 24 hours (rollups); None: no run
    note: str  # why its down alert is held: "unreachable (parent down)" (alerts.dependencies)


@dataclass(frozen=True)
class MonitorCard(MonitorTile):
    """A monitor as the monitors page shows it (``nanomon.monitor_card``); ``target`` is
    masked for readers who may not see secrets."""

    sparkline: Sparkline
    target: str


def detail_prefix() -> str:
    """``/monitors/``: one reverse() per page, not one per card (a thousand cost 50 ms)."""
    return reverse("monitors:detail", args=[0]).removesuffix("0")


def failing_ids(monitors: list[Monitor]) -> list[int]:
    """The enabled monitors whose latest run was not OK (from their loaded state: no query)."""
    return [
        monitor.id
        for monitor in monitors
        if monitor.enabled
        and getattr(getattr(monitor, "state", None), "last_status", None) in NOT_OK
    ]


def uptimes_24h(monitors: list[Monitor]) -> dict[int, float | None]:
    """Each monitor's uptime over the last 24 hours, in one query (``uptime_by_period``)."""
    uptimes = uptime_by_period([monitor.id for monitor in monitors], ("24h",))
    return {monitor_id: periods["24h"] for monitor_id, periods in uptimes.items()}


def tile(
    monitor: Monitor,
    prefix: str,
    kind: type[MonitorTile] = MonitorTile,
    uptime: float | None = None,
    note: str = "",
    **extra: object,
) -> MonitorTile:
    """``monitor`` as a tile (or a card: ``kind`` and its ``extra`` fields); ``prefix`` is
    ``detail_prefix()``, ``uptime`` its 24-hour uptime (``uptimes_24h``), ``note`` what
    ``alerts.dependencies.monitors_unreachable`` says of it."""
    state = getattr(monitor, "state", None)
    status = state.last_status if state is not None else None
    return kind(
        monitor=monitor,
        status=status,
        key=status_key(status, enabled=monitor.enabled),
        url=f"{prefix}{monitor.id}",
        uptime=uptime,
        note=note,
        **extra,
    )


def sections(tiles: list[MonitorTile]) -> list[tuple[str, list[MonitorTile]]]:
    """The tiles of each group in turn, as ``(group, tiles)`` (``monitors.selectors
    .grouped_first`` put them in that order); one ``("", tiles)`` when no monitor has a group."""
    grouped: list[tuple[str, list[MonitorTile]]] = []
    for item in tiles:
        group = item.monitor.group
        if not grouped or grouped[-1][0] != group:
            grouped.append((group, []))
        grouped[-1][1].append(item)
    return grouped
