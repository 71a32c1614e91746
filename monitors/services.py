"""Writes to monitors: every entry point (API, admin, forms, import) goes through these."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from monitors.engine import CheckRequest, CheckResult, run_checks_sync
from monitors.models import Monitor
from results.models import MonitorState

logger = logging.getLogger(__name__)

EDITABLE_FIELDS = ("name", "kind", "target", "interval", "rule", "enabled", "properties")


def request_dispatch() -> None:
    """Ask the dispatcher to run now instead of at its next tick (best effort).

    Beat ticks every second anyway, so a broker hiccup here only costs up to a second.
    """
    from monitors.tasks import dispatch_due_monitors

    try:
        dispatch_due_monitors.apply_async(expires=5)
    except Exception:  # the broker being down must not fail a save that has committed
        logger.warning("could not request an immediate dispatch", exc_info=True)


def _schedule_now(monitor: Monitor, now: datetime) -> None:
    """Reset the schedule: run at once when enabled, never when disabled; drop any claim."""
    monitor.next_run_at = now if monitor.enabled else None
    monitor.lease_until = None
    monitor.run_token = None


def monitor_save(
    monitor: Monitor, *, now: datetime | None = None, dispatch: bool = True
) -> Monitor:
    """Validate and store a new or changed monitor, reset its schedule and failure streak,
    and have it run at once (after commit) when enabled. Bulk callers pass
    ``dispatch=False`` and call ``request_dispatch`` once after commit themselves.

    Raises ``django.core.exceptions.ValidationError`` (contract order first) and stores nothing.
    """
    now = now or timezone.now()
    monitor.full_clean()
    _schedule_now(monitor, now)
    with transaction.atomic():
        monitor.save()
        MonitorState.objects.update_or_create(monitor=monitor, defaults={"consecutive_failures": 0})
        if monitor.enabled and dispatch:
            transaction.on_commit(request_dispatch)
    return monitor


def monitor_create(*, now: datetime | None = None, **fields: object) -> Monitor:
    """Create a monitor from its editable fields (see ``EDITABLE_FIELDS``)."""
    return monitor_save(Monitor(**_editable(fields)), now=now)


def monitor_update(monitor: Monitor, *, now: datetime | None = None, **fields: object) -> Monitor:
    """Replace a monitor's editable fields; its schedule and failure streak start over."""
    for name, value in _editable(fields).items():
        setattr(monitor, name, value)
    return monitor_save(monitor, now=now)


def monitor_delete(monitor: Monitor) -> None:
    """Delete a monitor and its results; a run in flight for it is dropped when it ends."""
    monitor.delete()


def monitors_delete_all() -> int:
    """Delete every monitor and every result; returns how many monitors were deleted."""
    _, per_model = Monitor.objects.all().delete()
    return per_model.get(Monitor._meta.label, 0)


def _editable(fields: Mapping[str, object]) -> dict[str, object]:
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"not editable monitor fields: {', '.join(sorted(unknown))}")
    return dict(fields)


def check_once(request: CheckRequest) -> CheckResult:
    """Run one check through the engine now, without storing anything (one-off checks:
    ``manage.py probe``, the API's test action, the dashboard's "test now" button)."""
    return run_checks_sync([request], concurrency=1)[0]
