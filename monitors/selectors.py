"""Reads of monitors, shaped for the API and the pages (writes live in ``services``)."""

from __future__ import annotations

from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import Concat, Least, StrIndex, Substr

from lib.status import RESULT_STATUS_KEYS, Status, status_key
from monitors.models import Monitor

# A monitor id is a PostgreSQL bigint: anything larger cannot exist (and must not reach SQL).
MAX_MONITOR_ID = 2**63 - 1


def monitors_list() -> QuerySet[Monitor]:
    """Every monitor with its current state (one query), in the model's order (name, id)."""
    return Monitor.objects.select_related("state")


def monitor_get(monitor_id: int) -> Monitor:
    """One monitor with its current state; ``Monitor.DoesNotExist`` when there is none."""
    if not 0 < monitor_id <= MAX_MONITOR_ID:
        raise Monitor.DoesNotExist(f"no monitor {monitor_id}")
    return monitors_list().get(pk=monitor_id)


def monitors_for_export() -> QuerySet[Monitor]:
    """Every monitor in creation order, so an export re-imports in the same order."""
    return Monitor.objects.order_by("id")


# The status filter of the pages: the page words of the statuses (``lib.status.status_key``):
# good, error, failure, unknown, disabled.
STATUS_FILTERS = (*RESULT_STATUS_KEYS, status_key(None), status_key(None, enabled=False))
OVERVIEW_FIELDS = (
    "id",
    "name",
    "group",
    "kind",
    "target",
    "interval",
    "enabled",
    "state__monitor",
    "state__last_status",
    "state__last_run_at",
    "state__last_value",
)


# Each status filter's condition; the dashboard also orders its tiles by these, problems first.
_STATUS_CONDITIONS = {
    status_key(Status.FAILED): Q(enabled=True, state__last_status=Status.FAILED),
    status_key(Status.ERROR): Q(enabled=True, state__last_status=Status.ERROR),
    status_key(None): Q(enabled=True, state__last_status__isnull=True),
    status_key(Status.OK): Q(enabled=True, state__last_status=Status.OK),
    status_key(None, enabled=False): Q(enabled=False),
}


def _before(text: str):
    """Where the first ``text`` is in the target (past its end when there is none)."""
    return StrIndex(Concat(F("target"), Value(text)), Value(text))


def searched(
    monitors: QuerySet[Monitor], search: str, *, reveal_secrets: bool
) -> QuerySet[Monitor]:
    """``monitors`` whose name or target contains ``search`` (any case).

    A reader who may not see secrets searches only the part of a target that is never masked
    (``monitors.secrets.masked_target``): the part before its query (``?``) or fragment
    (``#``), and not at all a target whose part holds user info (``@``). Else a search would
    tell a masked token, one character at a time.
    """
    if reveal_secrets:
        return monitors.filter(Q(name__icontains=search) | Q(target__icontains=search))
    shown = Substr(F("target"), 1, Least(_before("?"), _before("#")) - 1)
    return monitors.alias(shown_target=shown).filter(
        Q(name__icontains=search)
        | (Q(shown_target__icontains=search) & ~Q(shown_target__contains="@"))
    )


def monitors_overview() -> QuerySet[Monitor]:
    """Monitors with their state for the monitors page and the dashboard (filtered by
    ``monitors.filtersets.MonitorFilterSet``). Only the fields a card or tile shows are loaded
    (no properties or outputs to decode): these pages list every monitor."""
    return monitors_list().only(*OVERVIEW_FIELDS)


def grouped_first(monitors: QuerySet[Monitor]) -> QuerySet[Monitor]:
    """``monitors`` by group (named groups A to Z, then the monitors of no group), each group
    in the order ``monitors`` had: the pages' sections."""
    ungrouped_last = Case(
        When(group="", then=Value(1)), default=Value(0), output_field=IntegerField()
    )
    within = monitors.query.order_by or Monitor._meta.ordering
    return monitors.order_by(ungrouped_last, "group", *within)


def monitors_of_status(monitors: QuerySet[Monitor], status: str) -> QuerySet[Monitor]:
    """``monitors`` whose current status is ``status``, a ``STATUS_FILTERS`` word."""
    return monitors.filter(_STATUS_CONDITIONS[status])


def monitors_problems_first() -> QuerySet[Monitor]:
    """``monitors_overview()`` ordered failure, error, unknown, good, disabled, then by name:
    a wall display shows what needs attention at the top of its first page."""
    conditions = _STATUS_CONDITIONS.values()
    rank = Case(
        *(When(condition, then=Value(order)) for order, condition in enumerate(conditions)),
        output_field=IntegerField(),
    )
    return monitors_overview().order_by(rank, "name", "id")


def monitor_status_counts() -> dict[str, int]:
    """How many monitors have each status (``STATUS_FILTERS`` keys), counted in the database."""
    return Monitor.objects.aggregate(
        **{key: Count("id", filter=condition) for key, condition in _STATUS_CONDITIONS.items()}
    )
