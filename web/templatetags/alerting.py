"""Template tags for alerting on the pages: a monitor's outage with its acknowledgement."""

from __future__ import annotations

from django import template
from django.utils import timezone

from alerts.dependencies import (
    children_of,
    is_canary,
    monitors_down,
    monitors_unreachable,
    parents_of,
)
from alerts.maintenance import monitor_maintenance, results_marked
from alerts.models import AlertLevel, AlertState
from web.forms.dependencies import DependenciesForm
from web.tiles import failing_ids

register = template.Library()


@register.inclusion_tag("monitors/_alert_state.html", takes_context=True)
def monitor_alert(context, monitor) -> dict[str, object]:
    """The monitor's outage (if it is down): since when, acknowledged by whom and why, and an
    Acknowledge button for those who may; the maintenance windows covering it now; and, when
    a down parent (or every canary down) holds its alert, "unreachable (parent down)"."""
    standing = (
        AlertState.objects.filter(monitor=monitor, state=AlertLevel.DOWN)
        .select_related("acknowledged_by")
        .first()
    )
    return {
        "monitor": monitor,
        "standing": standing,
        "maintenance": monitor_maintenance(monitor.pk, timezone.now()),
        **_unreachable(monitor),
        "perms": context.get("perms"),
    }


def _unreachable(monitor) -> dict[str, object]:
    failing = monitors_down({monitor.pk}) if not hasattr(monitor, "state") else None
    if failing is None:  # its state is loaded: no query for a monitor that is not failing
        failing = set(failing_ids([monitor]))
    unreachable = monitors_unreachable(failing, failing=True).get(monitor.pk)
    if not unreachable:
        return {"unreachable": None, "parents_down": []}
    parents = parents_of(monitor.pk)
    down = monitors_down(parent.pk for parent in parents)
    return {"unreachable": unreachable, "parents_down": [p for p in parents if p.pk in down]}


@register.inclusion_tag("web/_dependencies.html", takes_context=True)
def monitor_dependencies(context, monitor, may_change) -> dict[str, object]:
    """The Alerting page's Dependencies section: parents, children, canary; a form for those
    who may change the policy (``web.views.dependencies``)."""
    parents = parents_of(monitor.pk)
    canary = is_canary(monitor.pk)
    return {
        "monitor": monitor,
        "may_change": may_change,
        "csrf_token": context.get("csrf_token"),
        "parents": parents,
        "children": children_of(monitor.pk),
        "canary": canary,
        "form": DependenciesForm(monitor, initial={"parents": parents, "canary": canary}),
    }


@register.simple_tag
def maintenance_marks(results) -> set[int]:
    """The ids of ``results`` that ran during a maintenance window covering their monitor
    (computed from the windows when shown, never stored in the results)."""
    return results_marked(results)
