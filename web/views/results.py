"""The results page: the latest results across monitors, filterable by status, paged by a
``(date, id)`` cursor (no counting, no offsets: fast on millions of rows)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from lib.status import RESULT_STATUS_KEYS
from results.selectors import results_latest
from web.access import read_required
from web.paging import cursor

PAGE_SIZE = 100


def _results(request: HttpRequest, *, say: bool) -> dict[str, object]:
    """A page of results; a bad status or cursor is ignored, and a full page (``say``; not a
    live fragment) says so."""
    status_name = request.GET.get("status", "")
    status = RESULT_STATUS_KEYS.get(status_name)
    if status is None:
        if status_name and say:
            choices = ", ".join(RESULT_STATUS_KEYS)
            messages.warning(request, f"Filter status ignored: it is one of {choices}.")
        status_name = ""
    before, before_id = cursor(request, say=say)
    results = results_latest(limit=PAGE_SIZE, status=status, before=before, before_id=before_id)
    return {
        "results": results,
        "status_filter": status_name,
        "status_filters": list(RESULT_STATUS_KEYS),
        "first_page": before is None,
        "page_url": reverse("results:list"),
        "next_page": results[-1] if len(results) == PAGE_SIZE else None,
        # The live fragment too (it had no Monitor column once refreshed).
        "show_monitor": True,
    }


@require_GET
@read_required
def result_list(request: HttpRequest) -> HttpResponse:
    return render(request, "results/result_list.html", _results(request, say=True))


@require_GET
@read_required
def result_list_live(request: HttpRequest) -> HttpResponse:
    return render(request, "results/_result_table.html", _results(request, say=False))
