"""Template tags of the dashboard: status pills and colours, type icons, times, outputs."""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime

from django import template
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from accounts.permissions import may_see_secrets
from lib.formatting import NO_VALUE, format_datetime, format_percent, format_value
from lib.status import DISABLED_STYLE, STATUS_STYLE, Status, status_key, status_style
from monitors.models import Monitor
from monitors.probes import output_unit, value_unit
from monitors.secrets import masked_target

register = template.Library()

# A pill and an icon have a handful of possible renderings: each partial is rendered once per
# variant and kept (the monitors page draws thousands of them).


@functools.lru_cache(maxsize=16)
def _pill(label: str) -> SafeString:
    return mark_safe(  # noqa: S308  (rendered by the template engine, escaped there)
        render_to_string("monitors/_status_pill.html", {"label": label, "key": label.lower()})
    )


@register.simple_tag
def status_pill(status: int | None, enabled: bool = True) -> SafeString:
    """The status pill of a monitor or a run (Good / Error / Failure / Unknown / Disabled)."""
    return _pill(status_style(status, enabled=enabled)[0])


@register.simple_tag
def status_styles() -> SafeString:
    """CSS custom properties for every status, from the one status map."""
    styles = [*STATUS_STYLE.values(), DISABLED_STYLE]
    rules = "".join(
        f".status-{label.lower()}{{--status:{colour}}}" for label, colour in dict(styles).items()
    )
    return mark_safe(rules)  # noqa: S308  (labels and colours are constants, not input)


@register.filter(name="status_key")
def status_key_filter(status: int | None, enabled: bool = True) -> str:
    return status_key(status, enabled=enabled)


TYPE_LABELS = dict(Monitor.Kind.choices)


@functools.lru_cache(maxsize=64)
def _icon(kind: str) -> SafeString:
    context = {"kind": kind, "label": TYPE_LABELS.get(kind, kind)}
    return mark_safe(render_to_string("web/_type_icon.html", context))  # noqa: S308


@register.simple_tag
def type_icon(kind: str) -> SafeString:
    """The icon of a monitor type, with its name for screen readers."""
    return _icon(kind if kind in TYPE_LABELS else "unknown")


_absolute = format_datetime  # the one time format (lib.formatting)


def _ago(value: datetime, now: datetime) -> str:
    seconds = max(0, int((now - value).total_seconds()))
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second")):
        if seconds >= size or size == 1:
            count = seconds // size
            return f"{count} {unit}{'s' * (count != 1)} ago"
    return ""  # unreachable


@register.simple_tag
def local_time(value: datetime | None, relative: bool = False) -> str:
    """``<time>`` in the viewer's zone (see ``web.middleware``); ``relative``: "2 minutes ago"
    with the full time as its title."""
    if not value:
        return mark_safe('<span class="muted">never</span>')
    iso = value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if relative:
        return format_html(
            '<time datetime="{}" title="{}" data-local="title">{}</time>',
            iso,
            _absolute(value),
            _ago(value, timezone.now()),
        )
    return format_html('<time datetime="{}" data-local="text">{}</time>', iso, _absolute(value))


@register.filter
def local_text(value: datetime | None) -> str:
    """A time as plain text in the viewer's zone (for SVG titles, where no element fits)."""
    return _absolute(value) if value else ""


@register.filter
def value(number: float | None, kind: str | None = None) -> str:
    """A run's value with its unit (``12.3 ms``, ``1,204 ms``); of a monitor of ``kind``."""
    return "" if number is None else format_value(number, value_unit(kind))


@register.filter
def percent(number: float | None) -> str:
    """An uptime: ``99.95 %``, ``100 %``, ``—`` without runs."""
    return format_percent(number)


@register.filter
def output_items(outputs: dict | None, kind: str | None = None) -> list[tuple[str, str]]:
    """Outputs as (name, text) pairs in their stored order; numbers in the one format, with
    the unit their probe declares (``bodyLen`` → ``18 B``, ``status`` → ``200``)."""
    if not outputs:
        return []
    items = []
    for name, item in outputs.items():
        if isinstance(item, bool) or not isinstance(item, int | float):
            text = item if isinstance(item, str) else json.dumps(item)
        else:
            text = format_value(item, output_unit(str(name), kind))
        items.append((str(name), str(text)))
    return items


@register.filter
def http_link(target: str) -> str:
    """``target`` when it is safe to link to (an http:// or https:// URL), else ``""``.

    Targets are not checked on save (NanoMon), so a ``javascript:`` target must never become
    a link.
    """
    lowered = target.strip().lower()
    return target if lowered.startswith(("http://", "https://")) else ""


@register.filter
def shown_target(target: str, user) -> str:
    """``target`` as ``user`` may see it: in full for people who may change monitors, else
    with its credentials (user info, ``?token=…``) masked."""
    return target if may_see_secrets(user) else masked_target(target)


@register.filter
def get_item(mapping: dict, key: str) -> object:
    """``mapping[key]`` in a template (``None`` when absent)."""
    return mapping.get(key) if isinstance(mapping, dict) else None


# The monitors page draws one card per monitor, a thousand or more: each card is one
# format_html call rather than a template with a dozen variables and tags (6x faster).
CARD_HTML = (
    '<li class="card status-{key}" data-monitor-id="{id}" data-status="{key}" data-name="{name}">'
    '<div class="card-head">{icon}'
    '<h2 class="card-title"><a href="{url}">{name}</a></h2>{pill}</div>{note}'
    '<p class="card-target" title="{target}">{target}</p>'
    "{sparkline}"
    '<p class="card-figures"><span class="card-value" title="Value of the last run">{value}</span>'
    '<span class="card-uptime" title="Share of OK runs over the last 24 hours, '
    'maintenance left out">24 h: {uptime}'
    "</span></p>"
    '<p class="card-meta">Last run {last_run} · every {interval}</p>'
    "</li>"
)


def last_value(monitor, state) -> str:
    """The last run's value with its unit, while the monitor is enabled and that run measured
    one (a Failed run measured nothing); ``""`` otherwise."""
    if not monitor.enabled or state is None or state.last_value is None:
        return ""
    if state.last_status == Status.FAILED:
        return ""
    return format_value(state.last_value, value_unit(monitor.kind))


@register.simple_tag
def monitor_card(card) -> SafeString:
    """One card of the monitors page (``web.tiles.MonitorCard``)."""
    monitor = card.monitor
    state = getattr(monitor, "state", None)
    return format_html(
        CARD_HTML,
        key=card.key,
        id=monitor.id,
        name=monitor.name,
        icon=type_icon(monitor.kind),
        url=card.url,
        pill=status_pill(card.status, monitor.enabled),
        note=format_html('<p class="card-note">{}</p>', card.note) if card.note else "",
        target=card.target,
        sparkline=card.sparkline.svg(),
        value=last_value(monitor, state) or NO_VALUE,
        uptime=format_percent(card.uptime),
        last_run=local_time(state.last_run_at if state else None, relative=True),
        interval=monitor.interval,
    )


# The dashboard draws up to TILES_PER_PAGE tiles: one format_html call each, as for the cards.
TILE_HTML = (
    '<li class="tile status-{key}" data-monitor-id="{id}" data-status="{key}" data-name="{name}">'
    '<a href="{url}"><span class="tile-name">{name}</span>'
    '<span class="tile-status">{status}</span>{uptime}</a></li>'
)
TILE_UPTIME_HTML = (
    '<span class="tile-uptime" title="Share of OK runs over the last 24 hours, '
    'maintenance left out">{}</span>'
)


@register.simple_tag
def dashboard_tile(tile) -> SafeString:
    """One tile of the dashboard (``web.tiles.MonitorTile``): its status, the last value with
    its unit while the monitor is enabled, and the 24-hour uptime once it ran."""
    monitor = tile.monitor
    status, _ = status_style(tile.status, enabled=monitor.enabled)
    if value := last_value(monitor, getattr(monitor, "state", None)):
        status = f"{status} · {value}"
    if tile.note:  # alerts.dependencies: held because a parent (or every canary) is down
        status = f"{status} · {tile.note}"
    uptime = ""
    if tile.uptime is not None:
        uptime = format_html(TILE_UPTIME_HTML, f"24 h: {format_percent(tile.uptime)}")
    return format_html(
        TILE_HTML,
        key=tile.key,
        id=monitor.id,
        name=monitor.name,
        url=tile.url,
        status=status,
        uptime=uptime,
    )
