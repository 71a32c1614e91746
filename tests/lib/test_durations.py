"""Go-style durations, as NanoMon's intervals and timeouts are written."""

from __future__ import annotations

import pytest

from lib.durations import format_seconds, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("300ms", 0.3),
        ("30s", 30),
        ("1m", 60),
        ("1.5h", 5400),
        ("1h30m", 5400),
        ("2h45m30.5s", 9930.5),
        ("1500us", 0.0015),
        ("1500µs", 0.0015),
        ("100ns", 1e-7),
        (".5s", 0.5),
        ("0", 0),
        ("+5s", 5),
    ],
)
def test_it_parses_what_go_parses(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5", "1.5", "s", "5 s", "5sec", "1d", "abc", "-", "1h 30m"])
def test_it_rejects_what_go_rejects(text):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_a_negative_duration_parses_to_negative_seconds():
    assert parse_duration("-1m") == -60


@pytest.mark.parametrize(("seconds", "text"), [(5, "5s"), (1.5, "1.5s"), (0.25, "250ms")])
def test_it_formats_seconds_for_messages(seconds, text):
    assert format_seconds(seconds) == text
