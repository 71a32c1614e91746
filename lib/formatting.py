"""One way to write numbers and times for people, everywhere: cards, tiles, the detail page,
the results page, chart tooltips and axes, badges.

Numbers (``format_number``): a whole number has no decimals (``4``, ``18``, ``200``, never
``18.0``); thousands are grouped (``1,204``); other numbers keep what a person can read:
three significant figures below 100 (``0.42``, ``3.5``, ``12.3``), none from 100 up
(``145``). ``format_value`` adds the declared unit after a space (``12.3 ms``, ``18 B``,
``41.5 days``); the units come from the probes' declarations (``OutputSpec.unit``,
``ProbeType.value_unit``). Percentages (``format_percent``) keep two decimals and never round
up to 100: ``99.999`` is ``99.99 %``, only a perfect record is ``100 %``.

Times (``format_datetime``): ``2026-11-21 13:00:05 CET`` in the active time zone, which is the
viewer's on every page and fragment (``web.middleware.ViewerTimezoneMiddleware``), else UTC.
"""

from __future__ import annotations

import math
from datetime import datetime

from django.utils import timezone

NO_VALUE = "—"


def format_number(value: float | int) -> str:
    """``4``, ``18``, ``1,204``, ``0.42``, ``3.5``, ``12.3``, ``145``, ``-2``."""
    if isinstance(value, bool):
        return str(value).lower()
    number = float(value)
    if not math.isfinite(number):
        return "∞" if number > 0 else "-∞" if number < 0 else "NaN"
    size = abs(number)
    if size >= 100 or number == round(number):
        text = f"{round(number):,}"
    elif size >= 10:
        text = f"{number:.1f}"
    elif size >= 1:
        text = f"{number:.2f}"
    else:
        text = f"{number:.{_decimals(size)}f}"
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return "0" if text in {"-0", ""} else text


def _decimals(size: float) -> int:
    """Decimals that keep two significant figures of a number below 1 (0.42, 0.042), at most
    six (a microsecond in ms)."""
    if size == 0:
        return 0
    return min(6, max(2, 1 - math.floor(math.log10(size))))


def format_value(value: float | int | None, unit: str = "") -> str:
    """A number with its unit: ``12.3 ms``, ``18 B``, ``4``; ``—`` for no value."""
    if value is None:
        return NO_VALUE
    text = format_number(value)
    return f"{text} {unit}" if unit else text


def format_percent(percent: float | None, *, sign: str = " %") -> str:
    """``99.95 %``, ``100 %``; rounded down, so only a perfect record says 100."""
    if percent is None:
        return NO_VALUE
    floored = math.floor(percent * 100) / 100
    text = f"{floored:.2f}".rstrip("0").rstrip(".")
    return f"{text}{sign}"


def format_datetime(value: datetime | None) -> str:
    """``2026-11-21 13:00:05 CET`` in the active zone (strftime: fast on long lists)."""
    if value is None:
        return ""
    local = timezone.localtime(value)
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()}"
