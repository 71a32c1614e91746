"""Alert history (``/alerts/history``: every monitor's outages) and a monitor's Alerting page
(``/monitors/<id>/alerting``: its alert policy and its outages). Each outage shows its start,
end, duration, first and last message, the run that opened it, and every notification with
its delivery attempts; failing channels are highlighted. Paged by cursor, as the results."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from alerts import selectors
from alerts.configuration import alert_policy_set
from alerts.history import outages
from alerts.models import MonitorAlertPolicy
from monitors.models import Monitor
from web.access import read_required
from web.forms.alert_policy import AlertPolicyForm
from web.paging import cursor

CHANGE_POLICY = "alerts.change_monitoralertpolicy"
PAGE = 50


def _history(request: HttpRequest, monitor_id: int | None) -> dict:
    before, before_id = cursor(request, say=True)
    found = outages(monitor_id=monitor_id, before=before, before_id=before_id, limit=PAGE)
    following = None
    if len(found) == PAGE:
        last = found[-1]
        following = "?" + urlencode(
            {"before": last.started_at.isoformat(), "before_id": last.down.id}
        )
    return {
        "outages": found,
        "next_page": following,
        "failing": list(selectors.channels_failing()),
        "older": before is not None,
    }


@require_GET
@read_required
def alert_history(request: HttpRequest) -> HttpResponse:
    return render(request, "web/alert_history.html", _history(request, None))


def _initial(monitor: Monitor) -> dict:
    policy = MonitorAlertPolicy.objects.filter(monitor=monitor).first()
    if policy is None:
        return {"use_default_channels": True}
    return {
        "fail_threshold": policy.fail_threshold,
        "recover_threshold": policy.recover_threshold,
        "reminder_minutes": policy.reminder_minutes,
        "muted": policy.muted,
        "use_default_channels": policy.use_default_channels,
        "channels": list(policy.channels.all()),
        "escalate_after_minutes": policy.escalate_after_minutes,
        "escalation_channels": list(policy.escalation_channels.all()),
    }


@require_http_methods(["GET", "POST"])
@read_required
def monitor_alerting(request: HttpRequest, monitor_id: int) -> HttpResponse:
    monitor = get_object_or_404(Monitor, pk=monitor_id)
    may_change = request.user.has_perm(CHANGE_POLICY)
    if request.method == "POST" and not may_change:
        raise PermissionDenied("you do not have permission to do this")
    form = AlertPolicyForm(request.POST or None, initial=_initial(monitor))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            alert_policy_set(
                monitor,
                fail_threshold=data["fail_threshold"],
                recover_threshold=data["recover_threshold"],
                reminder_minutes=data["reminder_minutes"],
                muted=data["muted"],
                use_default_channels=data["use_default_channels"],
                channels=data["channels"],
                escalate_after_minutes=data["escalate_after_minutes"],
                escalation_channels=data["escalation_channels"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Alert policy saved: it applies from the next run.")
            return redirect("web:monitor-alerting", monitor_id=monitor.pk)
    context = {
        "monitor": monitor,
        "form": form,
        "may_change": may_change,
        "default_channels": selectors.default_channel_ids(),
        "tag_channels": selectors.monitor_tag_channels(monitor.tags),
        **_history(request, monitor.pk),
    }
    return render(request, "web/monitor_alerting.html", context)
