"""Paging by cursor: a page ends on a row, the next page starts strictly after its
``(date, id)`` (see ``results.selectors.results_latest``). No counting, no offsets."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

MAX_ID = 2**63 - 1


def cursor_from(request: HttpRequest) -> tuple[datetime | None, int | None]:
    """The ``before`` / ``before_id`` query parameters, or (None, None) when absent or bad."""
    try:
        before = parse_datetime(request.GET.get("before", ""))
        before_id = int(request.GET.get("before_id", ""))
    except (ValueError, TypeError):
        return None, None
    if before is None or timezone.is_naive(before) or not 0 < before_id <= MAX_ID:
        return None, None
    return before, before_id
