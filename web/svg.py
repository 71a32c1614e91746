"""SVG text: XML-safe escaping and text widths for drawings made on the server (badges, charts).

``text_width`` measures a string as Verdana draws it (11 px normal, or 10 px bold for the
for-the-badge style), from per-character advance widths of printable ASCII (the figures of the
``anafanafo`` tables that shields.io's badges use, MIT); other characters count as an average
Latin letter, wide East Asian ones as a full em, combining marks as nothing.
"""

from __future__ import annotations

import re
import unicodedata
from html import escape

# Advance widths in px of the characters 32 (space) to 126 (~).
VERDANA_11 = (
    3.87,
    4.33,
    5.05,
    9,
    6.99,
    11.84,
    7.99,
    2.95,
    5,
    5,
    6.99,
    9,
    4,
    5,
    4,
    5,
    6.99,
    6.99,
    6.99,
    6.99,
    6.99,
    6.99,
    6.99,
    6.99,
    6.99,
    6.99,
    5,
    5,
    9,
    9,
    9,
    6,
    11,
    7.52,
    7.54,
    7.68,
    8.48,
    6.96,
    6.32,
    8.53,
    8.27,
    4.63,
    5,
    7.62,
    6.12,
    9.27,
    8.23,
    8.66,
    6.63,
    8.66,
    7.65,
    7.52,
    6.78,
    8.05,
    7.52,
    10.88,
    7.54,
    6.77,
    7.54,
    5,
    5,
    5,
    9,
    6.99,
    6.99,
    6.61,
    6.85,
    5.73,
    6.85,
    6.55,
    3.87,
    6.85,
    6.96,
    3.02,
    3.79,
    6.51,
    3.02,
    10.7,
    6.96,
    6.68,
    6.85,
    6.85,
    4.69,
    5.73,
    4.33,
    6.96,
    6.51,
    9,
    6.51,
    6.51,
    5.78,
    6.98,
    5,
    6.98,
    9,
)
VERDANA_10_BOLD = (
    3.42,
    4.02,
    5.87,
    8.67,
    7.11,
    12.72,
    8.62,
    3.32,
    5.43,
    5.43,
    7.11,
    8.67,
    3.61,
    4.8,
    3.61,
    6.89,
    7.11,
    7.11,
    7.11,
    7.11,
    7.11,
    7.11,
    7.11,
    7.11,
    7.11,
    7.11,
    4.02,
    4.02,
    8.67,
    8.67,
    8.67,
    6.17,
    9.64,
    7.76,
    7.62,
    7.24,
    8.3,
    6.83,
    6.5,
    8.11,
    8.37,
    5.46,
    5.55,
    7.71,
    6.37,
    9.48,
    8.47,
    8.5,
    7.33,
    8.5,
    7.82,
    7.1,
    6.82,
    8.12,
    7.64,
    11.28,
    7.64,
    7.37,
    6.92,
    5.43,
    6.89,
    5.43,
    8.67,
    7.11,
    7.11,
    6.68,
    6.99,
    5.88,
    6.99,
    6.64,
    4.22,
    6.99,
    7.12,
    3.42,
    4.03,
    6.71,
    3.42,
    10.58,
    7.12,
    6.87,
    6.99,
    6.99,
    4.97,
    5.93,
    4.56,
    7.12,
    6.5,
    9.79,
    6.69,
    6.51,
    5.97,
    7.11,
    5.43,
    7.11,
    8.67,
)
OTHER_WIDTH = {"normal": 6.66, "bold": 6.64}
WIDE_WIDTH = {"normal": 11.0, "bold": 10.0}

# Characters XML 1.0 does not allow (C0 controls but tab/newline/return, lone surrogates,
# U+FFFE/U+FFFF): a parser rejects a document holding one, so they are dropped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_escape(text: object) -> str:
    """``text`` safe inside an XML element or a quoted attribute (``& < > " '`` escaped)."""
    return escape(_NOT_XML.sub("", str(text)), quote=True)


def text_width(text: str, *, bold: bool = False) -> float:
    """The width in px of ``text`` in Verdana 11 px (``bold``: 10 px bold)."""
    table = VERDANA_10_BOLD if bold else VERDANA_11
    weight = "bold" if bold else "normal"
    width = 0.0
    for char in text:
        code = ord(char)
        if 32 <= code <= 126:
            width += table[code - 32]
        elif unicodedata.combining(char) or unicodedata.category(char) in {"Cc", "Cf"}:
            continue
        elif unicodedata.east_asian_width(char) in {"W", "F"}:
            width += WIDE_WIDTH[weight]
        else:
            width += OTHER_WIDTH[weight]
    return width
