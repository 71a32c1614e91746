"""Times in the viewer's time zone.

The page script stores the browser's IANA zone (``Intl.DateTimeFormat().resolvedOptions()``)
in the ``nanomon_tz`` cookie; this middleware activates it for the request, so every time a
page or fragment renders (tables, chart tooltips) is in the viewer's zone. Without the cookie
(first visit, no JavaScript) times render in UTC, labelled as such, and the script rewrites
the ``<time>`` elements of that first page in the browser.
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Callable
from urllib.parse import unquote

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

COOKIE_NAME = "nanomon_tz"


@functools.lru_cache(maxsize=256)
def _zone(name: str) -> zoneinfo.ZoneInfo | None:
    if not name or len(name) > 64:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None


class ViewerTimezoneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = _zone(unquote(request.COOKIES.get(COOKIE_NAME, "")))  # the script URL-encodes it
        if zone is None:
            timezone.deactivate()
        else:
            timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
