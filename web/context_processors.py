"""What every page's layout needs: version, read mode, the viewer's time zone, and the live
refresh period."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from web.access import can_read

# Seconds between two live refreshes of a page (NanoMon's 15 s). ``?refresh=N`` changes it for
# one page view (1 to 3600 s): wall displays, and tests that must not wait 15 s.
LIVE_REFRESH_SECONDS = 15


def live_refresh_seconds(request: HttpRequest) -> int:
    raw = request.GET.get("refresh", "")
    if raw.isdigit() and 1 <= int(raw) <= 3600:
        return int(raw)
    return LIVE_REFRESH_SECONDS


def nanomon(request: HttpRequest) -> dict[str, object]:
    return {
        "nanomon_version": settings.VERSION,
        "public_read": settings.NANOMON_PUBLIC_READ,
        "can_read": can_read(getattr(request, "user", None)),
        "viewer_timezone": timezone.get_current_timezone_name(),
        "live_refresh": live_refresh_seconds(request),
    }
