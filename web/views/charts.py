"""Charts as SVG documents, for READMEs, wikis and other dashboards (docs/api.md, Charts):

- ``GET /api/monitors/{id}/chart.svg?period=24h&max_rtt=200&dynamic=true``
- ``GET /api/chart.svg?ids=1,2,3&period=7d``: one line per monitor, with a legend.

``period`` is one of ``web.history.PERIODS`` (default ``24h``); ``max_rtt`` is the top of the
value scale in ms (gosrvmon's ``MaxRttScale``, default 200); with ``dynamic=true`` (gosrvmon's
``DynamicRttScale``, the default) the scale fits the data up to ``max_rtt``, with
``dynamic=false`` it always goes up to ``max_rtt``. ``width`` and ``height`` size the drawing;
``tz`` (``Europe/Paris``) sets the zone of the time axis (default: the viewer's, else UTC).

Reading follows the API's rule (``ReadOrModelPermission``): a signed-in user (session or API
token), or anyone with ``NANOMON_PUBLIC_READ=true``; else 401 (403 for a user without a role).
A bad parameter or an unknown monitor is a problem (400, 404) like any API error.
"""

from __future__ import annotations

import math
import zoneinfo
from datetime import tzinfo

from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.permissions import ReadOrModelPermission
from monitors.models import Monitor
from web.history import monitor_series, period_of, unit_of
from web.timechart import ChartSpec, render_chart

SVG_CONTENT_TYPE = "image/svg+xml"
MAX_CHART_MONITORS = 10
DEFAULT_MAX_RTT = 200.0
TRUE_WORDS = {"true", "1", "yes", "on"}
FALSE_WORDS = {"false", "0", "no", "off"}


class _FirstRenderer(BaseContentNegotiation):
    """Images are asked for with ``Accept: image/*``: no negotiation, errors are JSON
    problems whatever was asked."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


@extend_schema(exclude=True)  # an image, documented in docs/api.md
class SvgView(APIView):
    """An API route answering an SVG image; its errors are problems (JSON)."""

    permission_classes = [ReadOrModelPermission]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = _FirstRenderer

    @staticmethod
    def svg(document: str, *, max_age: int = 60) -> HttpResponse:
        response = HttpResponse(document, content_type=SVG_CONTENT_TYPE)
        # Private unless everyone may read: what a signed-in user sees is not for shared caches.
        scope = "public" if settings.NANOMON_PUBLIC_READ else "private"
        response["Cache-Control"] = f"{scope}, max-age={max_age}"
        response["Vary"] = "Cookie, Authorization"
        response["X-Content-Type-Options"] = "nosniff"
        return response


def _number(request: Request, name: str, default: float, low: float, high: float) -> float:
    raw = request.query_params.get(name, "")
    if raw == "":
        return default
    try:
        number = float(raw)
    except ValueError:
        raise ValidationError(f"{name} must be a number, got {raw[:40]!r}") from None
    if not math.isfinite(number) or not low <= number <= high:
        raise ValidationError(f"{name} must be between {low:g} and {high:g}, got {raw[:40]!r}")
    return number


def flag(request: Request, name: str, default: bool) -> bool:
    raw = request.query_params.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw in TRUE_WORDS:
        return True
    if raw in FALSE_WORDS:
        return False
    raise ValidationError(f"{name} must be true or false, got {raw[:40]!r}")


def _chart(request: Request, monitors: list[Monitor], title: str) -> str:
    try:
        period = period_of(request.query_params.get("period"))
    except ValueError as error:
        raise ValidationError(str(error)) from None
    max_rtt = _number(request, "max_rtt", DEFAULT_MAX_RTT, 1, 10_000_000)
    dynamic = flag(request, "dynamic", True)
    width = int(_number(request, "width", 800, 200, 4000))
    height = int(_number(request, "height", 240, 100, 2000))
    zone = _zone(request)
    now = timezone.now()
    spec = ChartSpec(
        since=now - period.span,
        until=now,
        unit=unit_of(monitors),
        y_max=max_rtt,
        dynamic=dynamic,
        width=width,
        height=height,
        title=f"{title} · {period.label}",
        series=[monitor_series(monitor, period, now) for monitor in monitors],
    )
    with timezone.override(zone):
        return render_chart(spec)


def _zone(request: Request) -> zoneinfo.ZoneInfo | tzinfo:
    """``tz`` (an IANA zone: an image in a README has no viewer's cookie), else the viewer's
    (``web.middleware``: the cookie), else UTC."""
    name = request.query_params.get("tz", "")
    if not name:
        return timezone.get_current_timezone()
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ValidationError(
            f"tz must be a time zone such as Europe/Paris, got {name[:40]!r}"
        ) from None


class MonitorChartView(SvgView):
    """``/api/monitors/{id}/chart.svg``: one monitor's values over a period."""

    def get(self, request: Request, monitor_id: int) -> HttpResponse:
        monitor = Monitor.objects.filter(pk=monitor_id).first()
        if monitor is None:
            raise NotFound(f"no monitor {monitor_id}")
        return self.svg(_chart(request, [monitor], monitor.name))


class ChartView(SvgView):
    """``/api/chart.svg?ids=1,2,3``: several monitors on one chart, a line and a legend each."""

    def get(self, request: Request) -> HttpResponse:
        raw = request.query_params.get("ids", "")
        parts = [part.strip() for part in raw.split(",") if part.strip()]
        if not parts:
            raise ValidationError("ids is required: monitor ids separated by commas, e.g. 1,2,3")
        if not all(part.isdigit() and len(part) <= 18 for part in parts):
            raise ValidationError(f"ids must be monitor ids separated by commas, got {raw[:60]!r}")
        ids = list(dict.fromkeys(int(part) for part in parts))
        if len(ids) > MAX_CHART_MONITORS:
            raise ValidationError(f"ids takes at most {MAX_CHART_MONITORS} monitors")
        found = {monitor.id: monitor for monitor in Monitor.objects.filter(pk__in=ids)}
        missing = [str(monitor_id) for monitor_id in ids if monitor_id not in found]
        if missing:
            raise NotFound(f"no monitor {', '.join(missing)}")
        monitors = [found[monitor_id] for monitor_id in ids]
        title = monitors[0].name if len(monitors) == 1 else f"{len(monitors)} monitors"
        return self.svg(_chart(request, monitors, title))
