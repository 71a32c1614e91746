"""The dashboard (``/dashboard``): a tile per monitor, problems first, with the counts per
status, failing alert channels and what is degraded (the banner)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from alerts.dependencies import monitors_unreachable
from alerts.selectors import channels_failing
from metrics.health import page_health
from monitors.selectors import grouped_first, monitor_status_counts, monitors_problems_first
from nanomon.supervisor import supervisor_status
from web.access import read_required
from web.paging import paged
from web.tiles import detail_prefix, failing_ids, sections, tile, uptimes_24h

# Tiles per page: 10,000 monitors on one page made an 11 MB page that took 3 s
# (bench/README.md, read path).
TILES_PER_PAGE = 500


def _dashboard(request: HttpRequest) -> dict[str, object]:
    page = paged(request, grouped_first(monitors_problems_first()), TILES_PER_PAGE)
    prefix = detail_prefix()
    monitors = list(page["page"].object_list)
    uptimes = uptimes_24h(monitors)
    unreachable = monitors_unreachable(failing_ids(monitors), failing=True)
    return {
        **page,
        "sections": sections(
            [
                tile(
                    monitor,
                    prefix,
                    uptime=uptimes.get(monitor.id),
                    note=unreachable.get(monitor.id, ""),
                )
                for monitor in monitors
            ]
        ),
        "counts": monitor_status_counts(),
        "page_url": reverse("monitors:dashboard"),
        "failing_channels": list(channels_failing()[:5]),
        "health_problems": page_health().reasons,  # the banner: /api/status's reasons
        "supervisor": supervisor_status(settings.DATA_DIR),
    }


@require_GET
@read_required
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "monitors/dashboard.html", _dashboard(request))


@require_GET
@read_required
def dashboard_live(request: HttpRequest) -> HttpResponse:
    return render(request, "monitors/_dashboard_tiles.html", _dashboard(request))
