"""Alerting pages: the monitors down now (``/alerts/active``) and acknowledging an outage
(``/monitors/<id>/acknowledge``, the link in down mails: a confirmation page with a reason)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from alerts.acknowledge import MAX_REASON, NotDown, alert_acknowledge, alerts_down
from alerts.models import AlertLevel, AlertState
from monitors.models import Monitor
from web.access import permission_required, read_required

ACKNOWLEDGE = "alerts.change_alertstate"


class AcknowledgeForm(forms.Form):
    reason = forms.CharField(
        max_length=MAX_REASON,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Who is on it, what is being done (shown on the monitor's page).",
    )


@require_GET
@read_required
def alerts_active(request: HttpRequest) -> HttpResponse:
    return render(request, "web/alerts_active.html", {"down": alerts_down()})


@require_http_methods(["GET", "POST"])
@permission_required(ACKNOWLEDGE)
def monitor_acknowledge(request: HttpRequest, monitor_id: int) -> HttpResponse:
    monitor = get_object_or_404(Monitor, pk=monitor_id)
    standing = AlertState.objects.filter(monitor=monitor, state=AlertLevel.DOWN).first()
    form = AcknowledgeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            alert_acknowledge(
                monitor.pk,
                user=request.user,
                reason=form.cleaned_data["reason"],
                now=timezone.now(),
            )
        except NotDown as error:
            messages.error(request, str(error))
        else:
            messages.success(
                request, f"“{monitor.name}” acknowledged: no reminders until it recovers."
            )
        return redirect("monitors:detail", monitor.pk)
    return render(
        request,
        "web/acknowledge.html",
        {"monitor": monitor, "standing": standing, "form": form},
    )
