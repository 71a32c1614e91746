"""Go-style duration strings (``300ms``, ``30s``, ``1.5h``, ``1h30m``), as NanoMon accepts them.

Pure Python: probes, models and the API all read durations through this one parser.
"""

from __future__ import annotations

import re

# Units Go's time.ParseDuration accepts, in seconds.
_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,  # U+00B5 micro sign
    "μs": 1e-6,  # U+03BC Greek mu
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(text: str) -> float:
    """Return the number of seconds in a Go duration string.

    Accepts what Go's ``time.ParseDuration`` accepts: an optional sign, then one or more
    ``<number><unit>`` parts (``1h30m``, ``1.5h``, ``250ms``); ``0`` alone is zero. A bare
    number such as ``5`` has no unit and is rejected, as in Go. Raises ``ValueError`` with a
    short message for anything else.
    """
    if not isinstance(text, str) or not text:
        raise ValueError("empty duration")
    body = text
    sign = 1.0
    if body[0] in "+-":
        sign = -1.0 if body[0] == "-" else 1.0
        body = body[1:]
    if body == "0":
        return 0.0
    if not body:
        raise ValueError(f"invalid duration {text!r}")
    total = 0.0
    position = 0
    while position < len(body):
        match = _PART.match(body, position)
        if match is None:
            if re.match(r"\d+(?:\.\d*)?$|\.\d+$", body[position:]):
                raise ValueError(f"missing unit in duration {text!r}")
            raise ValueError(f"invalid duration {text!r}")
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    return sign * total


def format_seconds(seconds: float) -> str:
    """Short human form of a number of seconds: ``5s``, ``1.5s``, ``250ms``."""
    if seconds >= 1:
        return f"{seconds:g}s"
    return f"{seconds * 1000:g}ms"
