"""Maintenance windows (``/maintenance``): the list with what is active now, a form to create
or change one, and deleting with a confirmation. Writes need the model permissions."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from alerts.maintenance import window_save
from alerts.models import MaintenanceWindow
from web.access import permission_required, read_required
from web.forms.maintenance import MaintenanceWindowForm

ADD, CHANGE, DELETE = (
    "alerts.add_maintenancewindow",
    "alerts.change_maintenancewindow",
    "alerts.delete_maintenancewindow",
)


@require_GET
@read_required
def maintenance_list(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    rows = []
    for window in MaintenanceWindow.objects.prefetch_related("monitors"):
        occurrence = window.occurrence_at(now)
        rows.append(
            {
                "window": window,
                "active_until": occurrence[1] if occurrence else None,
                "next_start": window.next_start(now),
            }
        )
    return render(request, "web/maintenance_list.html", {"rows": rows, "now": now})


def _form_page(
    request: HttpRequest, window: MaintenanceWindow | None, *, title: str
) -> HttpResponse:
    form = MaintenanceWindowForm(
        request.POST if request.method == "POST" else None, instance=window
    )
    if request.method == "POST" and form.is_valid():
        saved = form.save(commit=False)
        try:
            window_save(saved, monitors=[m.pk for m in form.cleaned_data["monitors"]])
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Maintenance window “{saved.name}” saved.")
            return redirect("web:maintenance")
    return render(
        request, "web/maintenance_form.html", {"form": form, "window": window, "title": title}
    )


@require_http_methods(["GET", "POST"])
@permission_required(ADD)
def maintenance_new(request: HttpRequest) -> HttpResponse:
    return _form_page(request, None, title="New maintenance window")


@require_http_methods(["GET", "POST"])
@permission_required(CHANGE)
def maintenance_edit(request: HttpRequest, window_id: int) -> HttpResponse:
    window = get_object_or_404(MaintenanceWindow, pk=window_id)
    return _form_page(request, window, title=f"Edit {window.name}")


@require_http_methods(["GET", "POST"])
@permission_required(DELETE)
def maintenance_delete(request: HttpRequest, window_id: int) -> HttpResponse:
    window = get_object_or_404(MaintenanceWindow, pk=window_id)
    if request.method == "POST":
        window.delete()
        messages.success(request, f"Maintenance window “{window.name}” deleted.")
        return redirect("web:maintenance")
    return render(request, "web/maintenance_confirm_delete.html", {"window": window})
