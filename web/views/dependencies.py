"""A monitor's dependencies on its Alerting page (``/monitors/<id>/alerting``): the monitors it
depends on and its canary flag (``alerts.dependencies``), saved by a POST to
``/monitors/<id>/dependencies`` that goes back to the Alerting page."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from alerts.dependencies import dependencies_set
from monitors.models import Monitor
from web.access import permission_required
from web.forms.dependencies import DependenciesForm

CHANGE_POLICY = "alerts.change_monitoralertpolicy"


@require_POST
@permission_required(CHANGE_POLICY)
def monitor_dependencies(request: HttpRequest, monitor_id: int) -> HttpResponse:
    monitor = get_object_or_404(Monitor, pk=monitor_id)
    form = DependenciesForm(monitor, request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, f"Dependencies not saved: {errors[0]}")
    else:
        try:
            dependencies_set(
                monitor,
                parents=[parent.pk for parent in form.cleaned_data["parents"]],
                canary=form.cleaned_data["canary"],
            )
        except ValidationError as error:
            for problems in error.message_dict.values():
                messages.error(request, f"Dependencies not saved: {problems[0]}")
        else:
            messages.success(request, "Dependencies saved.")
    return redirect("web:monitor-alerting", monitor_id=monitor.pk)
