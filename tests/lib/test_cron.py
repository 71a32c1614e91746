"""lib.cron: cron expressions read in a time zone, daylight-saving changes included."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from lib.cron import parse_cron, parse_zone

BERLIN = ZoneInfo("Europe/Berlin")


def at(*args, zone=UTC):
    return datetime(*args, tzinfo=zone)


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("*/15 * * * *", at(2026, 1, 1, 10, 7), at(2026, 1, 1, 10, 15)),
        ("0 2 * * *", at(2026, 1, 1, 2, 0), at(2026, 1, 2, 2, 0)),  # strictly after
        ("@daily", at(2026, 1, 1, 23, 59, 30), at(2026, 1, 2, 0, 0)),
        ("30 9 * * mon-fri", at(2026, 12, 5, 12, 0), at(2026, 12, 7, 9, 30)),  # Sat → Mon
        ("0 0 * * 7", at(2026, 12, 5, 12, 0), at(2026, 12, 6, 0, 0)),  # 7 is Sunday
        ("0 12 1 jan,jul *", at(2026, 2, 1), at(2026, 7, 1, 12, 0)),
        ("0 0 29 2 *", at(2026, 3, 1), at(2028, 2, 29)),
        ("0 0 13 * fri", at(2026, 12, 1), at(2026, 12, 4)),  # both days restricted: either
        ("10-50/20 8 * * *", at(2026, 1, 1, 8, 31), at(2026, 1, 1, 8, 50)),
    ],
)
def test_next_after_in_utc(expression, after, expected):
    assert parse_cron(expression).next_after(after, UTC) == expected


def test_wall_time_in_a_zone_across_daylight_saving():
    daily = parse_cron("30 2 * * *")
    # 2026-03-29 02:30 does not exist in Berlin (clocks go 02:00 → 03:00): that day is skipped.
    assert daily.next_after(at(2026, 3, 28, 3, 0, zone=BERLIN), BERLIN) == at(2026, 3, 30, 0, 30)
    # 2026-10-25 02:30 happens twice: the first (still +02:00, 00:30 UTC) fires, once.
    first = daily.next_after(at(2026, 10, 24, 3, 0, zone=BERLIN), BERLIN)
    assert first == at(2026, 10, 25, 0, 30)
    assert daily.next_after(first, BERLIN) == at(2026, 10, 26, 1, 30)
    assert parse_cron("0 9 * * *").next_after(at(2026, 7, 1, 8, 0), BERLIN) == at(2026, 7, 2, 7, 0)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("* * * *", "must have 5 fields"),
        ("61 * * * *", "minute: 61 is outside 0-59"),
        ("* 5-2 * * *", "hour: range '5-2' runs backwards"),
        ("*/0 * * * *", "minute: step must be a positive number"),
        ("* * * foo *", "month: 'foo' is not a number or a name"),
        ("0 0 30 2 *", "names no day that exists"),
    ],
)
def test_bad_expressions_say_what_is_wrong(expression, message):
    with pytest.raises(ValueError, match=message):
        parse_cron(expression)


def test_zones():
    assert parse_zone("Europe/Berlin") == BERLIN
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        parse_zone("Mars/Olympus")
