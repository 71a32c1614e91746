"""A traceroute monitor's route history: the results that kept a ``route`` output.

The traceroute probe keeps its ``route`` output only on a monitor's first trace and when the
route changed (``monitors.probes.traceroute``), so these results are the route's history.
The query walks ``result_monitor_date_idx`` (monitor, -date) newest first and stops after
``limit`` matches; a monitor whose route rarely changes is read back further, so the walk is
bounded by ``since`` too.
"""

from __future__ import annotations

from datetime import datetime

from results.models import Result


def route_changes(monitor_id: int, *, limit: int, since: datetime | None = None) -> list[Result]:
    """The newest ``limit`` results of the monitor whose outputs hold a ``route``, newest
    first (only ``since`` that time, when given)."""
    results = Result.objects.filter(monitor_id=monitor_id, outputs__has_key="route")
    if since is not None:
        results = results.filter(date__gte=since)
    return list(results.only("id", "date", "outputs").order_by("-date", "-id")[:limit])
