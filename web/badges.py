"""Shields-style badges drawn on the server: a grey label on the left, a coloured message on the
right (``Status | Up``), in the styles of shields.io's badge-maker: ``flat`` (the default),
``flat-square``, ``plastic`` and ``for-the-badge``.

Widths follow the text (``web.svg.text_width``: Verdana 11 px), so a longer label makes a wider
badge; every text is XML-escaped (``web.svg.xml_escape``). Colours are a shields name
(``brightgreen``, ``red``, ``blue`` …), a CSS colour name or a hex colour with or without
``#``; anything else is refused (``BadgeError``), so nothing the caller writes reaches an
attribute unchecked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from web.svg import text_width, xml_escape

STYLES = ("flat", "flat-square", "plastic", "for-the-badge")

SHIELDS_COLOURS = {
    "brightgreen": "#4c1",
    "green": "#97ca00",
    "yellowgreen": "#a4a61d",
    "yellow": "#dfb317",
    "orange": "#fe7d37",
    "red": "#e05d44",
    "blue": "#007ec6",
    "grey": "#555",
    "gray": "#555",
    "lightgrey": "#9f9f9f",
    "lightgray": "#9f9f9f",
    "success": "#4c1",
    "important": "#fe7d37",
    "critical": "#e05d44",
    "informational": "#007ec6",
    "inactive": "#9f9f9f",
}
CSS_COLOURS = {
    "black": "#000",
    "white": "#fff",
    "silver": "#c0c0c0",
    "maroon": "#800000",
    "purple": "#800080",
    "fuchsia": "#f0f",
    "magenta": "#f0f",
    "lime": "#0f0",
    "olive": "#808000",
    "navy": "#000080",
    "teal": "#008080",
    "aqua": "#0ff",
    "cyan": "#0ff",
    "pink": "#ffc0cb",
    "gold": "#ffd700",
    "brown": "#a52a2a",
    "indigo": "#4b0082",
    "violet": "#ee82ee",
    "crimson": "#dc143c",
    "tomato": "#ff6347",
    "coral": "#ff7f50",
    "salmon": "#fa8072",
    "darkgreen": "#006400",
    "darkred": "#8b0000",
    "darkblue": "#00008b",
    "skyblue": "#87ceeb",
    "steelblue": "#4682b4",
}
LABEL_COLOUR = "#555"
_HEX = re.compile(r"#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
MAX_TEXT = 100  # characters of a label or a message; more is cut with "…"


class BadgeError(ValueError):
    """A parameter a badge cannot take; the text names it."""


def colour(value: str, name: str) -> str:
    """``value`` as a hex colour (``#4c1``), or ``BadgeError`` naming the parameter."""
    lowered = value.strip().lower()
    if lowered in SHIELDS_COLOURS:
        return SHIELDS_COLOURS[lowered]
    if lowered in CSS_COLOURS:
        return CSS_COLOURS[lowered]
    match = _HEX.fullmatch(value.strip())
    if match:
        return f"#{match[1].lower()}"
    raise BadgeError(
        f"{name} must be a colour: a hex colour such as 4c1 or #e05d44, or a name such as "
        f"brightgreen, green, yellow, orange, red, blue, lightgrey; got {value[:40]!r}"
    )


def _light(hex_colour: str) -> bool:
    """Whether a background is light enough for dark text (badge-maker's rule of thumb)."""
    digits = hex_colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    red, green, blue = (int(digits[i : i + 2], 16) for i in (0, 2, 4))
    return (red * 299 + green * 587 + blue * 114) / 1000 >= 160


@dataclass(frozen=True)
class Badge:
    label: str
    message: str
    colour: str = "#4c1"  # hex, from colour()
    label_colour: str = LABEL_COLOUR
    style: str = "flat"


def _cut(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def render_badge(badge: Badge) -> str:
    """The badge as a standalone SVG document."""
    if badge.style not in STYLES:
        raise BadgeError(f"style must be one of {', '.join(STYLES)}, got {badge.style[:40]!r}")
    label, message = _cut(badge.label), _cut(badge.message)
    if badge.style == "for-the-badge":
        return _for_the_badge(badge, label.upper(), message.upper())
    height = 18 if badge.style == "plastic" else 20
    label_text, message_text = text_width(label), text_width(message)
    label_w = round(label_text + 10) if label else 0
    message_w = round(message_text + 10)
    width = label_w + message_w
    title = xml_escape(f"{label}: {message}" if label else message)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{title}"><title>{title}</title>'
    ]
    radius = {"flat": 3, "plastic": 4}.get(badge.style, 0)
    if badge.style == "flat":
        out.append(
            '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" '
            'stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>'
        )
    elif badge.style == "plastic":
        out.append(
            '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#fff" '
            'stop-opacity=".7"/><stop offset=".1" stop-color="#aaa" stop-opacity=".1"/>'
            '<stop offset=".9" stop-opacity=".3"/><stop offset="1" stop-opacity=".5"/>'
            "</linearGradient>"
        )
    if radius:
        out.append(
            f'<clipPath id="r"><rect width="{width}" height="{height}" rx="{radius}" '
            'fill="#fff"/></clipPath><g clip-path="url(#r)">'
        )
    else:
        out.append('<g shape-rendering="crispEdges">')
    if label_w:
        out.append(f'<rect width="{label_w}" height="{height}" fill="{badge.label_colour}"/>')
    out.append(f'<rect x="{label_w}" width="{message_w}" height="{height}" fill="{badge.colour}"/>')
    if radius:
        out.append(f'<rect width="{width}" height="{height}" fill="url(#s)"/>')
    out.append(
        '</g><g text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" '
        'text-rendering="geometricPrecision" font-size="110">'
    )
    baseline = 130 if badge.style == "plastic" else 140
    if label_w:
        out.append(_text(label, label_text, label_w / 2, baseline, badge.label_colour, radius))
    out.append(
        _text(message, message_text, label_w + message_w / 2, baseline, badge.colour, radius)
    )
    out.append("</g></svg>")
    return "".join(out)


def _text(text: str, width: float, centre: float, baseline: int, back: str, shadow: bool) -> str:
    """A text (in tenths of px, as badge-maker writes it), with its shadow on a dark ground."""
    light = _light(back)
    fill = "#333" if light else "#fff"
    x, length, escaped = round(centre * 10), round(width * 10), xml_escape(text)
    shadow_text = ""
    if shadow:
        shade = "#ccc" if light else "#010101"
        shadow_text = (
            f'<text aria-hidden="true" x="{x}" y="{baseline + 10}" fill="{shade}" '
            f'fill-opacity=".3" transform="scale(.1)" textLength="{length}">{escaped}</text>'
        )
    return (
        f'{shadow_text}<text x="{x}" y="{baseline}" transform="scale(.1)" fill="{fill}" '
        f'textLength="{length}">{escaped}</text>'
    )


def _for_the_badge(badge: Badge, label: str, message: str) -> str:
    spacing = 1.25  # px between letters, as shields draws this style
    label_text = text_width(label, bold=True) + spacing * max(len(label) - 1, 0)
    message_text = text_width(message, bold=True) + spacing * max(len(message) - 1, 0)
    label_w = round(label_text + 18) if label else 0
    message_w = round(message_text + 24)
    width = label_w + message_w
    title = xml_escape(f"{label}: {message}" if label else message)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="28" role="img" '
        f'aria-label="{title}"><title>{title}</title><g shape-rendering="crispEdges">'
    ]
    if label_w:
        parts.append(f'<rect width="{label_w}" height="28" fill="{badge.label_colour}"/>')
    parts.append(
        f'<rect x="{label_w}" width="{message_w}" height="28" fill="{badge.colour}"/></g>'
        '<g text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" '
        'text-rendering="geometricPrecision" font-size="100">'
    )
    for text, width_px, centre, back, weight in (
        (label, label_text, label_w / 2, badge.label_colour, ""),
        (message, message_text, label_w + message_w / 2, badge.colour, ' font-weight="bold"'),
    ):
        if not text:
            continue
        fill = "#333" if _light(back) else "#fff"
        parts.append(
            f'<text transform="scale(.1)" x="{round(centre * 10)}" y="175" '
            f'textLength="{round(width_px * 10)}" letter-spacing="12.5" fill="{fill}"{weight}>'
            f"{xml_escape(text)}</text>"
        )
    parts.append("</g></svg>")
    return "".join(parts)
