"""Shields-style badges (web.badges): valid SVG, widths that follow the text, escaped text,
checked colours and styles."""

from __future__ import annotations

import pytest

from tests.support.svg import SVG, parse_svg
from web.badges import STYLES, Badge, BadgeError, colour, render_badge
from web.svg import text_width


def width(badge: Badge) -> int:
    return int(parse_svg(render_badge(badge)).get("width"))


@pytest.mark.parametrize("style", STYLES)
def test_every_style_is_an_svg_saying_label_and_message(style):
    root = parse_svg(render_badge(Badge("Uptime (24h)", "99.95%", "#4c1", style=style)))
    assert root.tag == f"{SVG}svg"
    words = {text.text for text in root.iter(f"{SVG}text")}
    expected = (
        {"UPTIME (24H)", "99.95%"} if style == "for-the-badge" else {"Uptime (24h)", "99.95%"}
    )
    assert words == expected
    assert root.find(f"{SVG}title").text.lower() == "uptime (24h): 99.95%"


def test_the_width_grows_with_the_text():
    assert text_width("Status") == pytest.approx(35.48, abs=0.01)  # Verdana 11px
    short = width(Badge("Status", "Up"))
    longer = width(Badge("Status", "Up and running"))
    assert longer > short
    assert width(Badge("Status of the main website", "Up")) > short
    assert width(Badge("S", "W")) < width(Badge("S", "WWWW"))


def test_text_is_escaped():
    document = render_badge(Badge('<script>alert("x")</script>', "a & b"))
    assert "<script>" not in document
    root = parse_svg(document)
    shown = [t.text for t in root.iter(f"{SVG}text") if t.get("aria-hidden") is None]
    assert shown == ['<script>alert("x")</script>', "a & b"]  # the shadows aside


def test_colours_are_names_or_hex_and_nothing_else():
    assert colour("brightgreen", "color") == "#4c1"
    assert colour("E05D44", "color") == "#e05d44"
    assert colour("#abc", "color") == "#abc"
    assert colour("navy", "color") == "#000080"
    for bad in ('red" onload="x', "url(#a)", "#12345", "notacolour"):
        with pytest.raises(BadgeError, match="color must be a colour"):
            colour(bad, "color")
    with pytest.raises(BadgeError, match="style must be one of"):
        render_badge(Badge("a", "b", style="social"))
