"""How a status looks: the one map of status → label and colour used by every page."""

from __future__ import annotations

from django.utils.html import format_html

from results.models import Status

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


def status_badge(status: int | None, *, enabled: bool = True) -> str:
    label, colour = status_style(status, enabled=enabled)
    return format_html('<b style="color:{}">{}</b>', colour, label)
