"""The monitor pages: list (cards), dashboard (tiles), detail, new/edit/delete, and the small
endpoints behind the forms ("test now", the rule checker) and the live fragments.

Thin: reads go through ``monitors.selectors`` / ``results.selectors``, writes through
``monitors.services`` (via ``MonitorForm.save``). Live fragments are the same partials the
pages include, fetched by htmx every 15 s (``static/js/nanomon.js``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from alerts.selectors import channels_failing
from metrics.health import page_health
from monitors.engine import CheckRequest
from monitors.forms import DEFAULT_TEMPLATE, MONITOR_TEMPLATES, MonitorForm, check_rule_text
from monitors.models import Monitor
from monitors.oneoff import OneOffError, one_off_check
from monitors.probes import REGISTRY
from monitors.secrets import masked_properties, masked_target
from monitors.selectors import (
    STATUS_FILTERS,
    monitor_get,
    monitor_status_counts,
    monitors_overview,
    monitors_problems_first,
)
from monitors.services import monitor_delete
from monitors.validation import UNSET_INTERVAL
from nanomon.supervisor import supervisor_status
from results.models import Result
from results.selectors import Point, results_latest, sparklines, uptime_percentages
from web.access import may_see_secrets, permission_required, read_required
from web.charts import Sparkline, detail_chart, sparkline, status_key, uptime_bars
from web.paging import cursor_from

ADD, CHANGE, DELETE = "monitors.add_monitor", "monitors.change_monitor", "monitors.delete_monitor"
SPARKLINE_POINTS = 20
# Cards and tiles per page: 10,000 monitors on one page made an 11 MB page that took 3 s
# (bench/README.md, read path).
CARDS_PER_PAGE = 100
TILES_PER_PAGE = 500
DETAIL_RESULTS = 50
UPTIME_WINDOWS = (timedelta(hours=24), timedelta(days=7), timedelta(days=30))
UPTIME_LABELS = ("24 hours", "7 days", "30 days")


# --- Monitors (cards) ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MonitorTile:
    """A monitor as the dashboard shows it (``nanomon.dashboard_tile``)."""

    monitor: Monitor
    status: int | None
    key: str
    url: str


@dataclass(frozen=True)
class MonitorCard(MonitorTile):
    """A monitor as the monitors page shows it (``nanomon.monitor_card``); ``target`` is
    masked for readers who may not see secrets."""

    sparkline: Sparkline
    target: str


def _detail_prefix() -> str:
    """``/monitors/``: one reverse() per page, not one per card (a thousand cost 50 ms)."""
    return reverse("monitors:detail", args=[0]).removesuffix("0")


def _tile(
    monitor: Monitor,
    detail_prefix: str,
    kind: type[MonitorTile] = MonitorTile,
    **extra: object,
) -> MonitorTile:
    """``monitor`` as a tile (or a card: ``kind`` and its ``extra`` fields)."""
    state = getattr(monitor, "state", None)
    status = state.last_status if state is not None else None
    return kind(
        monitor=monitor,
        status=status,
        key=status_key(status, enabled=monitor.enabled),
        url=f"{detail_prefix}{monitor.id}",
        **extra,
    )


def _filters(request: HttpRequest) -> dict[str, str]:
    # PostgreSQL text cannot hold NUL: a search with one would be a 500, not "no match".
    search = request.GET.get("q", "")[:200].replace("\x00", "")
    status = request.GET.get("status", "")
    kind = request.GET.get("type", "")
    return {
        "q": search,
        "status": status if status in STATUS_FILTERS else "",
        "type": kind if kind in REGISTRY else "",
    }


def _paged(request: HttpRequest, monitors, per_page: int) -> dict[str, object]:
    """One page of ``monitors`` (``?page=N``; a bad or past-the-end number shows the nearest
    page) and the query string its pager links keep (every parameter but ``page``)."""
    page = Paginator(monitors, per_page).get_page(request.GET.get("page"))
    kept = request.GET.copy()
    kept.pop("page", None)
    return {"page": page, "pager_query": kept.urlencode(), "query": request.GET.urlencode()}


def _monitor_cards(request: HttpRequest) -> dict[str, object]:
    filters = _filters(request)
    reveal = may_see_secrets(request.user)
    paged = _paged(
        request,
        monitors_overview(
            search=filters["q"],
            status=filters["status"],
            kind=filters["type"],
            reveal_secrets=reveal,
        ),
        CARDS_PER_PAGE,
    )
    monitors = list(paged["page"].object_list)
    series = sparklines([monitor.id for monitor in monitors], points=SPARKLINE_POINTS)
    detail_prefix = _detail_prefix()
    cards = [
        _tile(
            monitor,
            detail_prefix,
            MonitorCard,
            sparkline=sparkline(series.get(monitor.id, []), slots=SPARKLINE_POINTS),
            target=monitor.target if reveal else masked_target(monitor.target),
        )
        for monitor in monitors
    ]
    filtered = any(filters.values())
    return {
        **paged,
        "cards": cards,
        "filters": filters,
        "filtered": filtered,
        "page_url": reverse("monitors:list"),
        # Only asked when nothing matched: tells "no monitors yet" from "none match".
        "has_monitors": bool(cards) or (filtered and Monitor.objects.exists()),
    }


@require_GET
@read_required
def monitor_list(request: HttpRequest) -> HttpResponse:
    context = _monitor_cards(request)
    context.update(
        status_filters=STATUS_FILTERS,
        kinds=[(kind, probe.label) for kind, probe in REGISTRY.items()],
    )
    return render(request, "monitors/monitor_list.html", context)


@require_GET
@read_required
def monitor_list_live(request: HttpRequest) -> HttpResponse:
    return render(request, "monitors/_monitor_cards.html", _monitor_cards(request))


# --- Dashboard (tiles) --------------------------------------------------------------------------


def _dashboard(request: HttpRequest) -> dict[str, object]:
    paged = _paged(request, monitors_problems_first(), TILES_PER_PAGE)
    detail_prefix = _detail_prefix()
    tiles = [_tile(monitor, detail_prefix) for monitor in paged["page"].object_list]
    return {
        **paged,
        "tiles": tiles,
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


# --- Detail -------------------------------------------------------------------------------------


def _get_monitor(monitor_id: int) -> Monitor:
    try:
        return monitor_get(monitor_id)
    except Monitor.DoesNotExist:
        raise Http404("no such monitor") from None


def _property_rows(monitor: Monitor, reveal: bool) -> list[dict[str, object]]:
    shown = monitor.properties if reveal else masked_properties(monitor.kind, monitor.properties)
    probe_type = REGISTRY.get(monitor.kind)
    rows = []
    for spec in probe_type.properties if probe_type else ():
        if spec.name in (shown or {}):
            rows.append({"name": spec.name, "value": shown[spec.name], "default": False})
        elif spec.default is not None:
            rows.append({"name": spec.name, "value": spec.default, "default": True})
    return rows


def _monitor_live(
    request: HttpRequest, monitor: Monitor, *, older: list[Result] | None, show_table: bool
) -> dict[str, object]:
    """What the detail page refreshes (status, uptime, chart of the latest runs, definition,
    outputs) and its results table: the latest runs, or ``older`` ones (an older page)."""
    latest = results_latest(limit=DETAIL_RESULTS, monitor_id=monitor.id)
    results = latest if older is None else older
    points = [Point(date=r.date, status=r.status, value=r.value) for r in reversed(latest)]
    state = getattr(monitor, "state", None)
    return {
        "monitor": monitor,
        "state": state,
        "status": state.last_status if state else None,
        "chart": detail_chart(points),
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
    monitor = _get_monitor(monitor_id)
    before, before_id = cursor_from(request)
    older = None
    if before is not None:
        older = results_latest(
            limit=DETAIL_RESULTS, monitor_id=monitor.id, before=before, before_id=before_id
        )
    context = _monitor_live(request, monitor, older=older, show_table=older is None)
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
        request, monitor, older=None, show_table=request.GET.get("table") == "1"
    )
    return render(request, "monitors/_monitor_live.html", context)


# --- New, edit, delete --------------------------------------------------------------------------


def _form_page(request: HttpRequest, form: MonitorForm, monitor: Monitor | None) -> HttpResponse:
    kind = form.selected_kind()
    context = {
        "form": form,
        "monitor": monitor,
        "selected_kind": kind,
        "templates": [
            (name, template["title"], REGISTRY[name].label)
            for name, template in MONITOR_TEMPLATES.items()
        ],
        "probe_types": list(REGISTRY.values()),
        "rule_examples": {name: t["rule_examples"] for name, t in MONITOR_TEMPLATES.items()},
        "rule_check": check_rule_text(str(form["rule"].value() or ""), kind),
    }
    # 200 with the errors on the page, as Django's own form views answer.
    return render(request, "monitors/monitor_form.html", context)


@require_http_methods(["GET", "POST"])
@permission_required(ADD)
def monitor_new(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = MonitorForm(request.POST)
        if form.is_valid():
            try:
                monitor = form.save()
            except ValidationError:
                return _form_page(request, form, None)
            messages.success(request, f"Monitor “{monitor.name}” created: it runs now.")
            return redirect("monitors:detail", monitor_id=monitor.id)
        return _form_page(request, form, None)
    template = request.GET.get("template", DEFAULT_TEMPLATE)
    if template not in MONITOR_TEMPLATES:
        template = DEFAULT_TEMPLATE
    form = MonitorForm(initial=MonitorForm.initial_from_template(template))
    return _form_page(request, form, None)


@require_http_methods(["GET", "POST"])
@permission_required(CHANGE)
def monitor_edit(request: HttpRequest, monitor_id: int) -> HttpResponse:
    monitor = _get_monitor(monitor_id)
    if request.method == "POST":
        form = MonitorForm(request.POST, instance=monitor)
        if form.is_valid():
            try:
                monitor = form.save()
            except ValidationError:
                return _form_page(request, form, monitor)
            except Monitor.DoesNotExist:  # deleted while the form was being sent
                messages.error(request, f"Monitor “{monitor.name}” was deleted: nothing saved.")
                return redirect("monitors:list")
            messages.success(request, f"Monitor “{monitor.name}” saved: it runs now.")
            return redirect("monitors:detail", monitor_id=monitor.id)
        return _form_page(request, form, monitor)
    return _form_page(request, MonitorForm(instance=monitor), monitor)


@require_http_methods(["GET", "POST"])
@permission_required(DELETE)
def monitor_delete_view(request: HttpRequest, monitor_id: int) -> HttpResponse:
    monitor = _get_monitor(monitor_id)
    if request.method == "POST":
        name = monitor.name
        if monitor_delete(monitor):
            messages.success(request, f"Monitor “{name}” and its results were deleted.")
        else:
            messages.info(request, f"Monitor “{name}” had already been deleted.")
        return redirect("monitors:list")
    return render(request, "monitors/monitor_confirm_delete.html", {"monitor": monitor})


# --- Test now and the rule checker ---------------------------------------------------------------


@require_POST
@permission_required(ADD, CHANGE)
def monitor_test(request: HttpRequest) -> HttpResponse:
    """Run the form's current definition once on a worker, store nothing, answer the result
    fragment (a failure to test, too, is a fragment that says why: htmx swaps only 2xx)."""
    data = request.POST.copy()
    # A one-off check needs neither a name nor an interval.
    data["name"] = data.get("name") or "test"
    data["interval"] = data.get("interval") or UNSET_INTERVAL
    instance = None
    # Editing: masked secrets sent back take the stored values, for people who may see them.
    if request.POST.get("monitor_id", "").isdigit() and request.user.has_perm(CHANGE):
        try:
            instance = monitor_get(int(request.POST["monitor_id"]))
        except Monitor.DoesNotExist:
            instance = None
    form = MonitorForm(data, instance=instance)
    context: dict[str, object] = {"errors": [], "result": None}
    if not form.is_valid():
        context["errors"] = [
            f"{'' if name == '__all__' else _field_label(form, name) + ': '}{message}"
            for name, messages_ in form.errors.items()
            for message in messages_
        ]
        return render(request, "monitors/_test_result.html", context)
    definition = form.definition()
    check = CheckRequest(
        kind=definition["kind"],
        target=definition["target"],
        properties=definition["properties"],
        rule=definition["rule"],
    )
    try:
        # On a worker: this request only waits (NANOMON_TEST_TIMEOUT at most) for its result.
        result = one_off_check(check, user_id=request.user.pk)
    except OneOffError as error:
        context["errors"] = [str(error)]
        return render(request, "monitors/_test_result.html", context)
    # The target as typed, but never its credentials (user info, ?token=…) in the page.
    context.update(result=result, kind=check.kind, target=masked_target(check.target))
    return render(request, "monitors/_test_result.html", context)


def _field_label(form: MonitorForm, name: str) -> str:
    field = form.fields.get(name)
    return str(field.label or name) if field is not None else name


@require_GET
@read_required
def rule_check(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind", "")
    check = check_rule_text(request.GET.get("rule", "")[:5000], kind)
    return render(request, "monitors/_rule_check.html", {"rule_check": check})
