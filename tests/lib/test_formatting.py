"""One number format and one time format everywhere (lib.formatting)."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime

import pytest
from django.utils import timezone

from lib.formatting import format_datetime, format_number, format_percent, format_value


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (4, "4"),
        (18.0, "18"),  # never "18.0" beside "4"
        (200.0, "200"),
        (1204, "1,204"),
        (1204.6, "1,205"),
        (145.6, "146"),
        (12.34, "12.3"),
        (10.0, "10"),
        (3.456, "3.46"),
        (3.5, "3.5"),
        (0.42, "0.42"),
        (0.0421, "0.042"),
        (0.0, "0"),
        (-2.0, "-2"),
        (-0.0001, "-0.0001"),
        (float("inf"), "∞"),
    ],
)
def test_numbers_are_written_one_way(number, text):
    assert format_number(number) == text


def test_values_carry_their_unit():
    assert format_value(12.34, "ms") == "12.3 ms"
    assert format_value(18.0, "B") == "18 B"
    assert format_value(200, "") == "200"
    assert format_value(None, "ms") == "—"


def test_percentages_never_round_up_to_a_perfect_record():
    assert format_percent(99.999) == "99.99 %"
    assert format_percent(100.0) == "100 %"
    assert format_percent(75.0) == "75 %"
    assert format_percent(97.456) == "97.45 %"
    assert format_percent(None) == "—"
    assert format_percent(99.5, sign="%") == "99.5%"


def test_times_are_written_in_the_active_zone():
    moment = datetime(2026, 11, 21, 12, 0, 5, tzinfo=UTC)
    assert format_datetime(moment) == "2026-11-21 12:00:05 UTC"
    with timezone.override(zoneinfo.ZoneInfo("Europe/Paris")):
        assert format_datetime(moment) == "2026-11-21 13:00:05 CET"
    assert format_datetime(None) == ""
