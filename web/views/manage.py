"""The admin page (``/manage``: Django's own admin keeps ``/admin/``): export, import with a
preview, delete all monitors, delete all results."""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from monitors.api.listing import monitors_data
from monitors.imports import monitors_import
from monitors.models import Monitor
from monitors.selectors import monitors_for_export
from monitors.services import monitors_delete_all
from results.services import results_delete_all
from web.access import may_see_secrets, permission_required, read_required
from web.forms.imports import ImportForm

ADD, DELETE = "monitors.add_monitor", "monitors.delete_monitor"
DELETE_RESULTS = "results.delete_result"


@require_GET
@read_required
def manage(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "web/manage.html",
        {"import_form": ImportForm(), "monitor_count": Monitor.objects.count()},
    )


@require_GET
@read_required
def export_monitors(request: HttpRequest) -> HttpResponse:
    """The monitors as a JSON file, in the format of ``GET /api/monitors/export`` (secrets
    masked unless you may change monitors)."""
    exported = monitors_data(
        monitors_for_export(), reveal_secrets=may_see_secrets(request.user), exported=True
    )
    body = json.dumps(exported, indent=2, ensure_ascii=False)
    response = HttpResponse(body + "\n", content_type="application/json; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="nanomon-monitors-{stamp}.json"'
    return response


@require_POST
@permission_required(ADD)
def import_monitors(request: HttpRequest) -> HttpResponse:
    """Step 1 (``preview``): validate and show what would change. Step 2 (``confirm``): the
    same JSON, carried by the preview page, is validated again and imported in one
    transaction."""
    form = ImportForm(request.POST, request.FILES)
    context: dict[str, object] = {"import_form": form, "monitor_count": Monitor.objects.count()}
    if not form.is_valid():
        return render(request, "web/manage.html", context)
    replace = form.cleaned_data["mode"] == "replace"
    if replace and not request.user.has_perm(DELETE):
        form.add_error("mode", "replacing also needs permission to delete monitors")
        return render(request, "web/manage.html", context)
    definitions = form.cleaned_data["definitions"]
    if request.POST.get("step") != "confirm":
        context.update(
            definitions=definitions,
            definitions_json=form.definitions_json(),
            replace=replace,
            removed=list(Monitor.objects.order_by("name", "id").values("id", "name", "kind"))
            if replace
            else [],
        )
        return render(request, "web/import_preview.html", context)
    try:
        monitors = monitors_import(definitions, replace=replace)
    except ValidationError as error:
        form.add_error("text", error.messages[0])
        return render(request, "web/manage.html", context)
    verb = "Replaced every monitor with" if replace else "Imported"
    messages.success(request, f"{verb} {len(monitors)} monitor{'s' * (len(monitors) != 1)}.")
    return redirect("monitors:list")


@require_http_methods(["GET", "POST"])
@permission_required(DELETE)
def delete_all_monitors(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        deleted = monitors_delete_all()
        messages.success(
            request, f"Deleted {deleted} monitor{'s' * (deleted != 1)} and their results."
        )
        return redirect("web:manage")
    return render(
        request,
        "web/confirm_delete_all.html",
        {
            "what": "monitors",
            "count": Monitor.objects.count(),
            "action": "web:delete-monitors",
        },
    )


@require_http_methods(["GET", "POST"])
@permission_required(DELETE_RESULTS)
def delete_all_results(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        deleted = results_delete_all()
        messages.success(request, f"Deleted {deleted} result{'s' * (deleted != 1)}.")
        return redirect("web:manage")
    return render(
        request,
        "web/confirm_delete_all.html",
        {"what": "results", "count": None, "action": "web:delete-results"},
    )
