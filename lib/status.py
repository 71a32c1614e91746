"""The status vocabulary: the one home of a run's outcome, its numbers and its words.

A run ends OK (0), Error (1: the probe worked, the rule said no) or Failed (2: the probe could
not measure). ``Status`` holds the numbers and the API's words; the rest is how each status
looks on the pages and in the admin (label and colour, CSS key, page filter word) and how the
metrics name it. ``monitors.engine.CheckStatus`` carries the same numbers without Django
(the probes and the engine import nothing from it); a test keeps the two in step.
"""

from __future__ import annotations

from django.db import models
from django.utils.html import format_html


class Status(models.IntegerChoices):
    """Outcome of a run (NanoMon's numbers), with the API's words for them."""

    OK = 0, "OK"
    ERROR = 1, "Error"
    FAILED = 2, "Failed"


# How the API describes the numbers: "0 OK, 1 Error, 2 Failed".
STATUS_HELP = ", ".join(f"{value} {label}" for value, label in Status.choices)

# The metrics' label values of each status: ok, error, failed.
STATUS_WORDS: dict[int, str] = {value: label.lower() for value, label in Status.choices}

# Labels as NanoMon's UI shows them; colours chosen for contrast on white (WCAG AA).
STATUS_STYLE: dict[int | None, tuple[str, str]] = {
    Status.OK: ("Good", "#146c2e"),
    Status.ERROR: ("Error", "#9a5b00"),
    Status.FAILED: ("Failure", "#b3261e"),
    None: ("Unknown", "#5f6368"),
}
DISABLED_STYLE = ("Disabled", "#5f6368")


def status_style(status: int | None, *, enabled: bool = True) -> tuple[str, str]:
    """(label, colour) of a monitor's current status; a disabled monitor shows "Disabled"."""
    if not enabled:
        return DISABLED_STYLE
    return STATUS_STYLE.get(status, STATUS_STYLE[None])


def status_key(status: int | None, *, enabled: bool = True) -> str:
    """The page word of a status: its label lowercased (good, error, failure, unknown,
    disabled), used as CSS class and as the pages' status filter."""
    return status_style(status, enabled=enabled)[0].lower()


# The pages' status filter words of the run outcomes: good, error, failure.
RESULT_STATUS_KEYS: dict[str, int] = {status_key(status): status for status in Status}


def status_badge(status: int | None, *, enabled: bool = True) -> str:
    """The admin's coloured status label."""
    label, colour = status_style(status, enabled=enabled)
    return format_html('<b style="color:{}">{}</b>', colour, label)
