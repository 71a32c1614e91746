"""Runtime values of the rule language and the two things every operator needs from them.

A value is one of ``float`` (every number), ``str``, ``bool``, ``None`` (null) or ``list``
(an array). Exact types are compared (``type(x) is float``) because ``bool`` is an ``int``
subclass in Python and ``True == 1.0`` there, while in govaluate they are unrelated types.
"""

from __future__ import annotations

import math

MESSAGE_VALUE_LIMIT = 60  # values in error messages are cut here: a rule may touch a whole body


def values_equal(left: object, right: object) -> bool:
    """govaluate's ``==``: same type and same value; arrays elementwise; never an error."""
    if type(left) is not type(right):
        return False
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(values_equal, left, right))
    return left == right


def format_value(value: object) -> str:
    """The value as Go's ``fmt`` ``%v`` prints it (govaluate concatenates strings this way)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):  # before float: bool is an int, and ints are numbers
        return "true" if value else "false"
    if isinstance(value, float):
        return format_float(value)
    if value is None:
        return "<nil>"
    if isinstance(value, list):
        return "[" + " ".join(map(format_value, value)) + "]"
    return str(value)  # a compiled pattern (lib.regex.Regex) prints as its source


def describe(value: object) -> str:
    """The value as error messages show it: ``%v``, shortened."""
    text = format_value(value)
    if len(text) > MESSAGE_VALUE_LIMIT:
        return text[: MESSAGE_VALUE_LIMIT - 1] + "…"
    return text


def format_float(number: float) -> str:
    """Go's ``%v`` for a float64, which is ``strconv.FormatFloat(x, 'g', -1, 64)``: the
    shortest digits that round-trip, in ``e`` notation when the decimal exponent is below -4
    or at least 6 (a fixed 6 in shortest mode). So ``5``, ``1.5``, ``123456``, ``1e+06``,
    ``1.234567e+06``, ``0.0001``, ``1e-05``, ``+Inf``, ``NaN``.
    """
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    if number == 0:
        return "-0" if math.copysign(1.0, number) < 0 else "0"
    sign = "-" if number < 0 else ""
    digits, point = _shortest_digits(abs(number))
    exponent = point - 1
    if exponent < -4 or exponent >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"


def _shortest_digits(number: float) -> tuple[str, int]:
    """Significant digits (no leading or trailing zeros) and the decimal point's position
    relative to them, from Python's repr: the shortest string that round-trips, as in Go."""
    mantissa, _, exponent = repr(number).partition("e")
    integer, _, fraction = mantissa.partition(".")
    digits = integer + fraction
    point = len(integer) + (int(exponent) if exponent else 0)
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    return stripped.rstrip("0"), point
