"""Path and query parameters, read strictly: a bad value is a 400 with a clear ``detail``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal

from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import ValidationError

# Whole numbers as Go's strconv.Atoi reads them: an optional sign and ASCII digits.
_INTEGER = re.compile(r"[+-]?[0-9]+")
# Longer numbers are out of every range here; refusing them early keeps int() cheap.
_MAX_DIGITS = 30

MAX_DEFAULT = 100
MAX_LIMIT = 1000
MAX_BEFORE_ID = 2**63 - 1  # a bigint


def parse_integer(text: str) -> int | None:
    """The integer ``text`` spells, or None."""
    if not _INTEGER.fullmatch(text) or len(text) > _MAX_DIGITS:
        return None
    return int(text)


# A number as JSON writes one: an integral one (60.0, 1e+16) counts as that integer in a query,
# where an OpenAPI client may send an integer parameter so.
_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]{1,3})?")


def parse_query_integer(text: str) -> int | None:
    """The integer a query parameter spells (``60``, or an integral ``60.0``, ``6e1``), or
    None."""
    value = parse_integer(text)
    if value is not None or not _NUMBER.fullmatch(text) or len(text) > _MAX_DIGITS:
        return value
    number = Decimal(text)
    if number != number.to_integral_value() or abs(number) >= 10**_MAX_DIGITS:
        return None
    return int(number)


def monitor_id(text: str) -> int:
    """A monitor id from the path: not an integer → 400 (NanoMon), not a monitor → the
    caller's business (404, or an empty list of results)."""
    value = parse_integer(text)
    if value is None:
        if _INTEGER.fullmatch(text):
            return 0  # a valid number too large to be an id: no such monitor
        raise ValidationError(f"monitor id must be an integer, got {text[:40]!r}")
    return value


def max_results(raw: str | None) -> int:
    """``max``: default 100, 1–1000 (NanoMon's limits and message)."""
    if raw is None or raw == "":
        return MAX_DEFAULT
    value = parse_query_integer(raw)
    if value is None:
        if _INTEGER.fullmatch(raw):
            raise ValidationError(f"max must be between 1 and {MAX_LIMIT}")
        raise ValidationError("max must be an integer")
    if not 1 <= value <= MAX_LIMIT:
        raise ValidationError(f"max must be between 1 and {MAX_LIMIT}")
    return value


def date(name: str, raw: str | None) -> datetime | None:
    """The query parameter ``name``: an RFC 3339 date (``2026-11-21T12:00:00Z``), in UTC;
    without an offset it is UTC. None when absent or empty."""
    if raw is None or raw == "":
        return None
    try:
        value = parse_datetime(raw)
    except ValueError:
        value = None
    if value is None:
        raise ValidationError(f"{name} must be an RFC 3339 date, e.g. 2026-11-21T12:00:00Z")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+05:00 is before year 1 in UTC
        raise ValidationError(f"{name} is out of range") from None


def before_date(raw: str | None) -> datetime | None:
    """``before``: an RFC 3339 date (``2026-11-21T12:00:00Z``); without an offset it is UTC."""
    return date("before", raw)


def time_range(query: Mapping[str, str]) -> tuple[datetime | None, datetime | None]:
    """``since`` (inclusive) and ``until`` (exclusive), RFC 3339 dates, each None when absent;
    both given, ``since`` must be before ``until``."""
    since, until = date("since", query.get("since")), date("until", query.get("until"))
    if since is not None and until is not None and since >= until:
        raise ValidationError("since must be before until")
    return since, until


def before_id(raw: str | None) -> int | None:
    """``before_id``: the id part of the paging cursor (see ``results_latest``)."""
    if raw is None or raw == "":
        return None
    value = parse_query_integer(raw)
    if value is None or not 0 < value <= MAX_BEFORE_ID:
        raise ValidationError("before_id must be a positive integer")
    return value


def cursor(query: Mapping[str, str]) -> tuple[datetime | None, int | None]:
    """The paging cursor of a list of results, newest first: ``before`` (``before_date``) and
    ``before_id`` (``before_id``), each None when absent. The one reading of it, for the API
    (a bad one: 400) and the pages (a bad one: the first page, and a message saying so)."""
    return before_date(query.get("before")), before_id(query.get("before_id"))
