"""Reading the SVG documents the server draws (charts, badges) in tests."""

from __future__ import annotations

import xml.etree.ElementTree as ET

SVG = "{http://www.w3.org/2000/svg}"


def parse_svg(document: str | bytes) -> ET.Element:
    """The document's root element; raises ``ET.ParseError`` unless it is well-formed XML."""
    root = ET.fromstring(document)  # noqa: S314  (our own output, parsed to check it)
    assert root.tag == f"{SVG}svg"
    return root


def classed(root: ET.Element, tag: str, name: str) -> list[ET.Element]:
    """Elements ``<tag>`` whose class list holds ``name``."""
    return [
        element for element in root.iter(f"{SVG}{tag}") if name in element.get("class", "").split()
    ]


def texts(root: ET.Element, name: str) -> list[str]:
    return [element.text or "" for element in classed(root, "text", name)]
