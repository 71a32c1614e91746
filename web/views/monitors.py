"""The monitors page (``/``: a card per monitor, filtered by ``MonitorFilterSet`` as the API's
list is) and a monitor's page (``/monitors/<id>``, the page alert e-mails link to:
``ALERT_LINK_BASEURL`` + ``/monitors/<id>``)."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from alerts.dependencies import monitors_unreachable
from monitors.filtersets import MonitorFilterSet
from monitors.models import Monitor
from monitors.probes import REGISTRY
from monitors.secrets import masked_properties, masked_target, revealed_properties
from monitors.selectors import STATUS_FILTERS, grouped_first, monitor_get, monitors_overview
from results.models import Result
from results.route_history import route_changes
from results.selectors import results_latest, sparklines, uptime_percentages
from web.access import may_see_secrets, read_required
from web.charts import detail_chart, sparkline, uptime_bars
from web.history import PERIODS, Period, period_of
from web.paging import cursor, paged
from web.tiles import MonitorCard, detail_prefix, failing_ids, sections, tile, uptimes_24h

SPARKLINE_POINTS = 20
# Cards per page: 10,000 monitors on one page made an 11 MB page that took 3 s
# (bench/README.md, read path).
CARDS_PER_PAGE = 100
DETAIL_RESULTS = 50
UPTIME_WINDOWS = tuple(PERIODS[key].span for key in ("24h", "7d", "30d", "90d", "365d"))
UPTIME_LABELS = ("24 hours", "7 days", "30 days", "90 days", "365 days")
ROUTE_HISTORY, ROUTE_DAYS = 20, 90  # a traceroute monitor's route changes shown, how far back


# --- Monitors (cards) ---------------------------------------------------------------------------


def _filterset(request: HttpRequest) -> MonitorFilterSet:
    """The page's filters: the API's (``MonitorFilterSet``), the search box's ``q`` being its
    ``search``. PostgreSQL text cannot hold NUL and the API takes 200 characters at most: the
    box's text is cut to fit, so a search is a search, never an error."""
    data = request.GET.copy()
    search = request.GET.get("q", request.GET.get("search", ""))
    data["search"] = search[:200].replace("\x00", "")
    return MonitorFilterSet(data, queryset=monitors_overview(), request=request)


def _monitor_cards(request: HttpRequest, *, say: bool) -> dict[str, object]:
    """The cards of the page's filtered monitors; a bad filter is ignored, and a full page
    (``say``; not a live fragment) says which."""
    filterset = _filterset(request)
    filterset.is_valid()  # a bad filter is left out of cleaned_data: ignored
    valid = {name: value for name, value in filterset.form.cleaned_data.items() if value}
    if say:
        for name, errors in filterset.errors.items():
            messages.warning(request, f"Filter {name} ignored: {errors[0]}")
    filters = {
        "q": valid.get("search", ""),
        "status": valid.get("status", ""),
        "type": valid.get("type", ""),
        "enabled": valid.get("enabled", ""),
        "tag": valid.get("tag", ""),
        "group": valid.get("group", ""),
    }
    reveal = may_see_secrets(request.user)
    page = paged(request, grouped_first(filterset.qs), CARDS_PER_PAGE)
    monitors = list(page["page"].object_list)
    series = sparklines([monitor.id for monitor in monitors], points=SPARKLINE_POINTS)
    prefix = detail_prefix()
    uptimes = uptimes_24h(monitors)
    unreachable = monitors_unreachable(failing_ids(monitors), failing=True)
    cards = [
        tile(
            monitor,
            prefix,
            MonitorCard,
            uptime=uptimes.get(monitor.id),
            note=unreachable.get(monitor.id, ""),
            sparkline=sparkline(series.get(monitor.id, []), slots=SPARKLINE_POINTS),
            target=monitor.target if reveal else masked_target(monitor.target),
        )
        for monitor in monitors
    ]
    filtered = any(filters.values())
    return {
        **page,
        "cards": cards,
        "sections": sections(cards),
        "filters": filters,
        "filtered": filtered,
        "page_url": reverse("monitors:list"),
        # Only asked when nothing matched: tells "no monitors yet" from "none match".
        "has_monitors": bool(cards) or (filtered and Monitor.objects.exists()),
    }


@require_GET
@read_required
def monitor_list(request: HttpRequest) -> HttpResponse:
    context = _monitor_cards(request, say=True)
    context.update(
        status_filters=STATUS_FILTERS,
        kinds=[(kind, probe.label) for kind, probe in REGISTRY.items()],
    )
    return render(request, "monitors/monitor_list.html", context)


@require_GET
@read_required
def monitor_list_live(request: HttpRequest) -> HttpResponse:
    return render(request, "monitors/_monitor_cards.html", _monitor_cards(request, say=False))


# --- A monitor's page ---------------------------------------------------------------------------


def get_monitor(monitor_id: int) -> Monitor:
    """The monitor, or a 404 page."""
    try:
        return monitor_get(monitor_id)
    except Monitor.DoesNotExist:
        raise Http404("no such monitor") from None


def _property_rows(monitor: Monitor, reveal: bool) -> list[dict[str, object]]:
    shown = (revealed_properties if reveal else masked_properties)(monitor.kind, monitor.properties)
    probe_type = REGISTRY.get(monitor.kind)
    rows = []
    for spec in probe_type.properties if probe_type else ():
        if spec.name in (shown or {}):
            rows.append({"name": spec.name, "value": shown[spec.name], "default": False})
        elif spec.default is not None:
            rows.append({"name": spec.name, "value": spec.default, "default": True})
    return rows


def _period(request: HttpRequest, *, say: bool) -> Period:
    """The chart's period (``?period=``, default 24 hours); a bad one is said and ignored."""
    try:
        return period_of(request.GET.get("period"))
    except ValueError as error:
        if say:
            messages.warning(request, f"Showing 24 hours: {error}")
        return period_of(None)


def _monitor_live(
    request: HttpRequest,
    monitor: Monitor,
    *,
    older: list[Result] | None,
    show_table: bool,
    period: Period,
) -> dict[str, object]:
    """What the detail page refreshes (status, uptime, chart over ``period``, definition,
    outputs) and its results table: the latest runs, or ``older`` ones (an older page)."""
    results = older
    if older is None:
        results = results_latest(limit=DETAIL_RESULTS, monitor_id=monitor.id)
    state = getattr(monitor, "state", None)
    return {
        "monitor": monitor,
        "state": state,
        "status": state.last_status if state else None,
        "chart": detail_chart(monitor, period, timezone.now()),
        "period": period,
        "periods": PERIODS.values(),
        "uptime": uptime_bars(
            uptime_percentages(monitor.id, windows=UPTIME_WINDOWS, now=timezone.now()),
            UPTIME_LABELS,
        ),
        "properties": _property_rows(monitor, may_see_secrets(request.user)),
        "outputs_help": REGISTRY[monitor.kind].outputs if monitor.kind in REGISTRY else (),
        "page_url": reverse("monitors:detail", args=[monitor.id]),
        "results": results,
        "first_page": older is None,
        "show_table": show_table,
        "next_page": results[-1] if len(results) == DETAIL_RESULTS else None,
    }


@require_GET
@read_required
def monitor_detail(request: HttpRequest, monitor_id: int) -> HttpResponse:
    monitor = get_monitor(monitor_id)
    before, before_id = cursor(request, say=True)
    older = None
    if before is not None:
        older = results_latest(
            limit=DETAIL_RESULTS, monitor_id=monitor.id, before=before, before_id=before_id
        )
    period = _period(request, say=True)
    context = _monitor_live(request, monitor, older=older, show_table=older is None, period=period)
    if monitor.kind == "traceroute" and older is None:
        since = timezone.now() - timedelta(days=ROUTE_DAYS)
        context["routes"] = route_changes(monitor.id, limit=ROUTE_HISTORY, since=since)
        context["route_days"] = ROUTE_DAYS
    if monitor.push_token and request.user.has_perm("monitors.change_monitor"):
        for name, route in (("push_url", "ping"), ("kuma_url", "kuma-push")):
            context[name] = request.build_absolute_uri(reverse(route, args=[monitor.push_token]))
    return render(request, "monitors/monitor_detail.html", context)


@require_GET
@read_required
def monitor_detail_live(request: HttpRequest, monitor_id: int) -> HttpResponse:
    try:
        monitor = monitor_get(monitor_id)
    except Monitor.DoesNotExist:
        # Deleted while someone watched it: take them back to the list.
        response = HttpResponse()
        response["HX-Redirect"] = reverse("monitors:list")
        return response
    # The table refreshes only on the first page (``?table=1``); older pages keep theirs.
    context = _monitor_live(
        request,
        monitor,
        older=None,
        show_table=request.GET.get("table") == "1",
        period=_period(request, say=False),
    )
    return render(request, "monitors/_monitor_live.html", context)
