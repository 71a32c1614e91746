"""A monitor as the dashboard shows it (a tile) and as the monitors page shows it (a card)."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse

from lib.status import status_key
from monitors.models import Monitor
from web.charts import Sparkline


@dataclass(frozen=True)
class MonitorTile:
    """A monitor as the dashboard shows it (``nanomon.dashboard_tile``)."""

    monitor: Monitor
    status: int | None
    key: str
    url: str


@dataclass(frozen=True)
class MonitorCard(MonitorTile):
    """A monitor as the monitors page shows it (``nanomon.monitor_card``); ``target`` is
    masked for readers who may not see secrets."""

    sparkline: Sparkline
    target: str


def detail_prefix() -> str:
    """``/monitors/``: one reverse() per page, not one per card (a thousand cost 50 ms)."""
    return reverse("monitors:detail", args=[0]).removesuffix("0")


def tile(
    monitor: Monitor,
    prefix: str,
    kind: type[MonitorTile] = MonitorTile,
    **extra: object,
) -> MonitorTile:
    """``monitor`` as a tile (or a card: ``kind`` and its ``extra`` fields); ``prefix`` is
    ``detail_prefix()``."""
    state = getattr(monitor, "state", None)
    status = state.last_status if state is not None else None
    return kind(
        monitor=monitor,
        status=status,
        key=status_key(status, enabled=monitor.enabled),
        url=f"{prefix}{monitor.id}",
        **extra,
    )
