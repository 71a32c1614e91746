"""Template tags for alerting on the pages: a monitor's outage with its acknowledgement."""

from __future__ import annotations

from django import template
from django.utils import timezone

from alerts.maintenance import monitor_maintenance, results_marked
from alerts.models import AlertLevel, AlertState

register = template.Library()


@register.inclusion_tag("monitors/_alert_state.html", takes_context=True)
def monitor_alert(context, monitor) -> dict[str, object]:
    """The monitor's outage (if it is down): since when, acknowledged by whom and why, and an
    Acknowledge button for those who may; and the maintenance windows covering it now."""
    standing = (
        AlertState.objects.filter(monitor=monitor, state=AlertLevel.DOWN)
        .select_related("acknowledged_by")
        .first()
    )
    return {
        "monitor": monitor,
        "standing": standing,
        "maintenance": monitor_maintenance(monitor.pk, timezone.now()),
        "perms": context.get("perms"),
    }


@register.simple_tag
def maintenance_marks(results) -> set[int]:
    """The ids of ``results`` that ran during a maintenance window covering their monitor
    (computed from the windows when shown, never stored in the results)."""
    return results_marked(results)
