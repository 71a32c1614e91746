"""Dependencies and canaries applied to alerting (docs/alerting.md, Dependencies).

A monitor may depend on others (``Dependency(child, parent)``: a host behind its gateway).
While a parent is *down* (its alert state is DOWN, or its latest runs failed: a parent that
is failing but not yet past its threshold already counts, so a child checked first is not
alerted before its parent), a child's DOWN is recorded but *held*, through the same hold as
maintenance (``AlertState.held_at``, ``alerts.maintenance.held_release``): the sweeper sends
the child's own down alert once no parent is down and the child is still down; a child that
recovers while held sends nothing (nobody was told). Recoveries are never held.

Canaries (``MonitorAlertPolicy.canary``) check the prober's own connectivity: while every
enabled canary is down, the DOWN of every other monitor is held the same way (the canaries'
own alerts go out: one alert says the prober is cut off), and released as above.

A disabled parent or canary holds nothing. Cycles are refused, by one rule (``cycle_parents``)
for the API and the pages (``dependencies_set``) and a backup's restore.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from alerts.models import AlertLevel, Dependency, MonitorAlertPolicy
from monitors.models import Monitor

PARENT, CANARY = "parent", "canary"
UNREACHABLE = {
    PARENT: "unreachable (parent down)",
    CANARY: "unreachable (prober cut off: every canary is down)",
}


def monitors_down(monitor_ids: Iterable[int], settled: Mapping[int, str] | None = None) -> set[int]:
    """Which of these enabled monitors are down or failing now. ``settled`` gives alert states
    decided in the current batch but not written yet (``alerts.transitions``). One query."""
    ids = set(monitor_ids)
    if not ids:
        return set()
    settled = settled or {}
    rows = Monitor.objects.filter(pk__in=ids, enabled=True).values_list(
        "pk", "alert_state__state", "state__consecutive_failures"
    )
    return {
        pk
        for pk, state, failures in rows
        if settled.get(pk, state) == AlertLevel.DOWN or (failures or 0) > 0
    }


def canary_ids() -> set[int]:
    """The enabled canaries."""
    return set(
        MonitorAlertPolicy.objects.filter(canary=True, monitor__enabled=True).values_list(
            "monitor_id", flat=True
        )
    )


def held_by_dependencies(
    monitor_ids: Iterable[int], settled: Mapping[int, str] | None = None
) -> dict[int, str]:
    """Which of these monitors a down parent (``PARENT``) or the canaries all being down
    (``CANARY``) hold now. Three queries whatever the number of monitors."""
    candidates = set(monitor_ids)
    if not candidates:
        return {}
    parents: dict[int, set[int]] = {}
    for child_id, parent_id in Dependency.objects.filter(child_id__in=candidates).values_list(
        "child_id", "parent_id"
    ):
        parents.setdefault(child_id, set()).add(parent_id)
    canaries = canary_ids()
    if not parents and not canaries:
        return {}
    down = monitors_down(set().union(canaries, *parents.values()), settled)
    cut_off = bool(canaries) and canaries <= down
    held: dict[int, str] = {}
    for monitor_id in candidates:
        if parents.get(monitor_id, set()) & down:
            held[monitor_id] = PARENT
        elif cut_off and monitor_id not in canaries:
            held[monitor_id] = CANARY
    return held


def monitors_unreachable(monitor_ids: Iterable[int], *, failing: bool = False) -> dict[int, str]:
    """For pages and the API: the monitors among these that are down or failing while held by
    a dependency, each with its words (``UNREACHABLE``). One query when none fails; none at
    all when the caller passes only the failing ones (``failing=True``) and there are none."""
    failing_ids = set(monitor_ids) if failing else monitors_down(monitor_ids)
    return {
        monitor_id: UNREACHABLE[reason]
        for monitor_id, reason in held_by_dependencies(failing_ids).items()
    }


def parents_of(monitor_id: int) -> list[Monitor]:
    return list(Monitor.objects.filter(alert_children__child_id=monitor_id).order_by("name", "pk"))


def children_of(monitor_id: int) -> list[Monitor]:
    return list(Monitor.objects.filter(alert_parents__parent_id=monitor_id).order_by("name", "pk"))


def descendants_in(children: Mapping[int, Iterable[int]], monitor_id: int) -> set[int]:
    """Every monitor that depends on this one, directly or through others, in the graph
    ``children`` (parent id → its children's ids): no query (a backup's restore checks the
    file's dependencies with it before they are stored)."""
    found: set[int] = set()
    todo = [monitor_id]
    while todo:
        for child_id in children.get(todo.pop(), ()):
            if child_id not in found:
                found.add(child_id)
                todo.append(child_id)
    return found


def cycle_parents(
    children: Mapping[int, Iterable[int]], monitor_id: int, parents: Iterable[int]
) -> set[int]:
    """The rule against cycles: which of ``parents`` the monitor may not depend on, given
    the dependencies ``children`` (parent id → children's ids) already hold: itself, and
    every monitor that already depends on it, directly or through others."""
    wanted = set(parents)
    return (wanted & {monitor_id}) | (wanted & descendants_in(children, monitor_id))


def _stored_children() -> dict[int, set[int]]:
    """The stored dependencies as parent id → its children's ids (one query)."""
    children: dict[int, set[int]] = {}
    for parent_id, child_id in Dependency.objects.values_list("parent_id", "child_id"):
        children.setdefault(parent_id, set()).add(child_id)
    return children


def dependencies_set(
    monitor: Monitor, *, parents: Iterable[int], canary: bool | None = None
) -> list[Monitor]:
    """Replace the monitor's parents (and set its canary flag unless None); raises
    ``ValidationError`` naming the field, storing nothing, for an unknown monitor, itself, or
    a monitor that depends on it (a cycle). Returns the parents."""
    wanted = set(parents)
    if monitor.pk in wanted:
        raise ValidationError({"parents": "A monitor cannot depend on itself."})
    with transaction.atomic():
        # One writer at a time checks for cycles: lock the child's row and every parent's.
        locked = set(
            Monitor.objects.select_for_update()
            .filter(Q(pk=monitor.pk) | Q(pk__in=wanted))
            .values_list("pk", flat=True)
        )
        unknown = sorted(wanted - locked)
        if unknown:
            raise ValidationError({"parents": f"No such monitor: {unknown[0]}."})
        below = cycle_parents(_stored_children(), monitor.pk, wanted)
        if below:
            names = ", ".join(
                Monitor.objects.filter(pk__in=below).order_by("name").values_list("name", flat=True)
            )
            raise ValidationError(
                {"parents": f"That would be a cycle: these already depend on it: {names}."}
            )
        Dependency.objects.filter(child=monitor).exclude(parent_id__in=wanted).delete()
        Dependency.objects.bulk_create(
            [Dependency(child=monitor, parent_id=parent_id) for parent_id in sorted(wanted)],
            ignore_conflicts=True,
        )
        # Kept with the policy (a row of defaults if none: backups carry them with it).
        policy = MonitorAlertPolicy.objects.filter(monitor=monitor).first()
        if policy is None and (wanted or canary):
            MonitorAlertPolicy.objects.create(monitor=monitor, canary=bool(canary))
        elif policy is not None and canary is not None and policy.canary != canary:
            policy.canary = canary
            policy.save(update_fields=["canary", "updated_at"])
    return parents_of(monitor.pk)


def is_canary(monitor_id: int) -> bool:
    return MonitorAlertPolicy.objects.filter(monitor_id=monitor_id, canary=True).exists()
