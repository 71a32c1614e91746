"""Paging by page number, for the pages that list monitors (the monitors page, the dashboard).

Results page by cursor instead (``before`` / ``before_id``, read by
``nanomon.api.params.cursor`` for the pages and the API alike): no counting, no offsets.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest
from rest_framework.exceptions import ValidationError

from lib.errors import first_message
from nanomon.api import params


def paged(request: HttpRequest, items, per_page: int) -> dict[str, object]:
    """One page of ``items`` (``?page=N``; a bad or past-the-end number shows the nearest
    page) and the query string its pager links keep (every parameter but ``page``)."""
    page = Paginator(items, per_page).get_page(request.GET.get("page"))
    kept = request.GET.copy()
    kept.pop("page", None)
    return {"page": page, "pager_query": kept.urlencode(), "query": request.GET.urlencode()}


def cursor(request: HttpRequest, *, say: bool) -> tuple[datetime | None, int | None]:
    """The page's ``before`` / ``before_id`` cursor (``nanomon.api.params.cursor``, as the API
    reads it), or (None, None): absent, or bad. A bad one shows the newest results, and a full
    page (``say``; not a live fragment) says why."""
    try:
        return params.cursor(request.GET)
    except ValidationError as error:
        if say:
            messages.warning(request, f"Showing the newest results: {first_message(error.detail)}.")
        return None, None
