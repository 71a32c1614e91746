"""Raw runs over a time range, as the short-period charts draw them (``web.history``).

Longer periods are drawn from rollups (``results.history.rollup_series``); an hour or a day is
drawn run by run from here.
"""

from __future__ import annotations

from datetime import datetime

from results.models import Result
from results.selectors import Point


def results_between(
    monitor_id: int, *, since: datetime, until: datetime, limit: int = 20_000
) -> list[Point]:
    """The monitor's runs that started in ``(since, until]``, oldest first (date, status,
    value): one walk of ``result_monitor_date_idx`` between the two dates, at most ``limit``
    rows (the newest ones when there are more)."""
    rows = (
        Result.objects.filter(monitor_id=monitor_id, date__gt=since, date__lte=until)
        .order_by("-date", "-id")
        .values_list("date", "status", "value")[:limit]
    )
    return [Point(date=date, status=status, value=value) for date, status, value in rows][::-1]
