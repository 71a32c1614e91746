"""Cron expressions: five fields (minute hour day-of-month month day-of-week) and the macros
``@hourly``, ``@daily``, ``@weekly``, ``@monthly``, ``@yearly``, read in a time zone.

The fields take what crontab(5) takes: ``*``, numbers, ranges ``1-5``, steps ``*/15`` and
``10-50/20``, lists ``1,15``, month names ``jan``…``dec`` and day names ``sun``…``sat`` (0 and 7
are Sunday). As in cron, when both day fields are restricted a day matches either of them.

``Cron.next_after(moment, zone)`` is the first time strictly after ``moment`` the expression
fires in ``zone``'s wall time, as an aware UTC datetime: a time skipped by a daylight-saving
change does not fire that day; a time that happens twice fires at its first occurrence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MACROS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
MONTHS = {name: number for number, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
)}  # fmt: skip
DAYS = {
    name: number for number, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))
}
# (name, lowest, highest, names) of the five fields.
FIELDS = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, MONTHS),
    ("day of week", 0, 7, DAYS),
)
# Far enough for any expression that can fire at all (29 February on a Monday: 28 years).
SEARCH_YEARS = 30


@dataclass(frozen=True)
class Cron:
    text: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool  # day of month is *
    any_weekday: bool  # day of week is *

    def _day_matches(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        in_month = day.day in self.days
        in_week = (day.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return in_month and in_week
        return in_month or in_week

    def next_after(self, moment: datetime, zone: ZoneInfo) -> datetime:
        """The first firing strictly after ``moment`` (aware), in UTC."""
        local = moment.astimezone(zone)
        day = local.date()
        last = day + timedelta(days=366 * SEARCH_YEARS)
        while day <= last:
            if self._day_matches(day):
                for hour in self.hours:
                    for minute in self.minutes:
                        candidate = _existing(day, hour, minute, zone)
                        if candidate is not None and candidate > moment:
                            return candidate
            day += timedelta(days=1)
        raise ValueError(f"cron expression {self.text!r} never fires")


def _existing(day: date, hour: int, minute: int, zone: ZoneInfo) -> datetime | None:
    """``day hour:minute`` in ``zone`` as UTC (the first of two), or None when the clocks
    skipped it."""
    wall = datetime.combine(day, time(hour, minute), tzinfo=zone)
    moment = wall.astimezone(UTC)
    if moment.astimezone(zone).replace(tzinfo=None) != wall.replace(tzinfo=None):
        return None
    return moment


def parse_cron(text: str) -> Cron:
    """A cron expression; ``ValueError`` naming the field and what is wrong."""
    expanded = MACROS.get(text.strip().lower(), text)
    parts = expanded.split()
    if len(parts) != 5:
        raise ValueError(
            f"must have 5 fields (minute hour day-of-month month day-of-week) or be a macro "
            f"such as @daily, got {text!r}"
        )
    values = [_field(part, *spec) for part, spec in zip(parts, FIELDS, strict=True)]
    weekdays = frozenset(0 if day == 7 else day for day in values[4])
    cron = Cron(
        text=text.strip(),
        minutes=tuple(sorted(values[0])),
        hours=tuple(sorted(values[1])),
        days=frozenset(values[2]),
        months=frozenset(values[3]),
        weekdays=weekdays,
        any_day=parts[2] == "*",
        any_weekday=parts[4] == "*",
    )
    if (
        not any(  # 30 February, 31 April…: an expression that can never fire is refused
            day in cron.days and day <= _longest(month)
            for month in cron.months
            for day in range(1, 32)
        )
        and cron.any_weekday
    ):
        raise ValueError(f"{text!r} names no day that exists")
    return cron


def _longest(month: int) -> int:
    return {2: 29, 4: 30, 6: 30, 9: 30, 11: 30}.get(month, 31)


def _field(part: str, name: str, low: int, high: int, names: dict[str, int]) -> set[int]:
    chosen: set[int] = set()
    for item in part.lower().split(","):
        span, _, step_text = item.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ValueError(f"{name}: step must be a positive number, got {item!r}")
            step = int(step_text)
        if span == "*":
            first, last = low, high
        elif "-" in span:
            start, _, end = span.partition("-")
            first, last = (
                _number(start, name, low, high, names),
                _number(end, name, low, high, names),
            )
            if first > last:
                raise ValueError(f"{name}: range {span!r} runs backwards")
        else:
            first = _number(span, name, low, high, names)
            last = high if step_text else first
        chosen.update(range(first, last + 1, step))
    return chosen


def _number(text: str, name: str, low: int, high: int, names: dict[str, int]) -> int:
    if text in names:
        return names[text]
    if not text.isdigit():
        raise ValueError(f"{name}: {text!r} is not a number" + (" or a name" if names else ""))
    number = int(text)
    if not low <= number <= high:
        raise ValueError(f"{name}: {number} is outside {low}-{high}")
    return number


def parse_zone(text: str) -> ZoneInfo:
    """An IANA time zone name (``Europe/Berlin``, ``UTC``); ``ValueError`` when unknown."""
    try:
        return ZoneInfo(text.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {text!r} (an IANA name such as Europe/Berlin)"
        ) from None
