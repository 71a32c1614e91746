"""Template tags of the dashboard: status pills and colours, type icons, times, outputs."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from django import template
from django.utils import timezone
from django.utils.dateformat import format as format_date
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince

from monitors.models import Monitor
from results.presentation import DISABLED_STYLE, STATUS_STYLE, status_style
from web.charts import format_value

register = template.Library()

DATE_FORMAT = "Y-m-d H:i:s T"


@register.inclusion_tag("monitors/_status_pill.html")
def status_pill(status: int | None, enabled: bool = True) -> dict[str, str]:
    """The status pill of a monitor or a run (Good / Error / Failure / Unknown / Disabled)."""
    label, _ = status_style(status, enabled=enabled)
    return {"label": label, "key": label.lower()}


@register.simple_tag
def status_styles() -> SafeString:
    """CSS custom properties for every status, from the one status map."""
    styles = [*STATUS_STYLE.values(), DISABLED_STYLE]
    rules = "".join(
        f".status-{label.lower()}{{--status:{colour}}}" for label, colour in dict(styles).items()
    )
    return mark_safe(rules)  # noqa: S308  (labels and colours are constants, not input)


@register.filter
def status_key(status: int | None, enabled: bool = True) -> str:
    return status_style(status, enabled=enabled)[0].lower()


@register.filter
def status_label(status: int | None) -> str:
    return status_style(status)[0]


TYPE_LABELS = dict(Monitor.Kind.choices)


@register.inclusion_tag("web/_type_icon.html")
def type_icon(kind: str) -> dict[str, str]:
    """The icon of a monitor type, with its name for screen readers."""
    known = kind in TYPE_LABELS
    return {"kind": kind if known else "unknown", "label": TYPE_LABELS.get(kind, kind)}


@register.simple_tag
def local_time(value: datetime | None, relative: bool = False) -> str:
    """``<time>`` in the viewer's zone (see ``web.middleware``); ``relative``: "2 minutes ago"
    with the full time as its title."""
    if not value:
        return mark_safe('<span class="muted">never</span>')  # noqa: S308  (a constant)
    local = timezone.localtime(value)
    absolute = format_date(local, DATE_FORMAT)
    iso = value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if relative:
        ago = timesince(value, timezone.now(), depth=1)
        return format_html(
            '<time datetime="{}" title="{}" data-local="title">{} ago</time>', iso, absolute, ago
        )
    return format_html('<time datetime="{}" data-local="text">{}</time>', iso, absolute)


@register.filter
def local_text(value: datetime | None) -> str:
    """A time as plain text in the viewer's zone (for SVG titles, where no element fits)."""
    return format_date(timezone.localtime(value), DATE_FORMAT) if value else ""


@register.filter
def value(number: float | None) -> str:
    """A run's value, short (``12.3``, ``1,204``)."""
    return "" if number is None else format_value(number)


@register.filter
def output_items(outputs: dict | None) -> list[tuple[str, str]]:
    """Outputs as (name, text) pairs in their stored order; numbers formatted short."""
    if not outputs:
        return []
    items = []
    for name, item in outputs.items():
        if isinstance(item, bool) or not isinstance(item, int | float):
            text = item if isinstance(item, str) else json.dumps(item)
        else:
            text = format_value(item)
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
def get_item(mapping: dict, key: str) -> object:
    """``mapping[key]`` in a template (``None`` when absent)."""
    return mapping.get(key) if isinstance(mapping, dict) else None
