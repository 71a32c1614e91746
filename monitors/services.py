"""Writes to monitors: every entry point (API, admin, forms, import) goes through these."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from datetime import datetime

from celery import current_app
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from monitors.engine import CheckRequest, CheckResult, run_checks_sync
from monitors.models import Monitor
from monitors.passive import passive_deadline
from monitors.probes import is_passive

logger = logging.getLogger(__name__)

# loop.tasks.dispatch_due_monitors, called by its name: monitors does not import the loop.
DISPATCH_TASK = "monitors.tasks.dispatch_due_monitors"

EDITABLE_FIELDS = (
    "name", "kind", "target", "interval", "rule", "enabled", "properties", "group", "tags",
)  # fmt: skip
# Monitors deleted per statement group by ``monitors_delete_all`` (ids passed as parameters).
DELETE_GROUP_SIZE = 1000


def push_token_new() -> str:
    """A new push token: 22 URL-safe characters, 128 random bits."""
    return secrets.token_urlsafe(16)


def push_token_rotate(monitor: Monitor) -> str:
    """Give a push monitor a new token; its old ping URLs answer 404 from now on."""
    token = push_token_new()
    Monitor.objects.filter(pk=monitor.pk).update(push_token=token)
    monitor.push_token = token
    return token


def request_dispatch() -> None:
    """Ask the dispatcher to run now instead of at its next tick (best effort).

    Beat ticks every second anyway, so a broker hiccup here only costs up to a second.
    """
    try:
        current_app.send_task(DISPATCH_TASK, expires=5)
    except Exception:  # the broker being down must not fail a save that has committed
        logger.warning("could not request an immediate dispatch", exc_info=True)


def _schedule_now(monitor: Monitor, now: datetime) -> None:
    """Reset the schedule: run at once when enabled, never when disabled; drop any claim.
    A push monitor is not run: its first deadline is its first expected ping plus grace."""
    monitor.next_run_at = now if monitor.enabled else None
    if monitor.enabled and is_passive(monitor.kind):
        monitor.next_run_at = passive_deadline(monitor, now)
    monitor.lease_until = None
    monitor.run_token = None


def monitor_save(
    monitor: Monitor, *, now: datetime | None = None, dispatch: bool = True
) -> Monitor:
    """Validate and store a new or changed monitor, reset its schedule and failure streak,
    and have it run at once (after commit) when enabled. Bulk callers pass
    ``dispatch=False`` and call ``request_dispatch`` once after commit themselves.

    Raises ``django.core.exceptions.ValidationError`` (contract order first) and stores nothing,
    or ``Monitor.DoesNotExist`` when a stored monitor was deleted since it was read.
    """
    now = now or timezone.now()
    monitor.full_clean()
    _schedule_now(monitor, now)
    if not is_passive(monitor.kind):  # only a passive (push) monitor has a token
        monitor.push_token = None
    elif not monitor.push_token:
        monitor.push_token = push_token_new()
    with transaction.atomic():
        reset = {"consecutive_failures": 0}
        if not monitor._state.adding:
            stored = (
                Monitor.objects.select_for_update().filter(pk=monitor.pk).values("kind", "target")
            ).first()
            if stored is None:
                # Deleted since it was read (a delete or an import that replaces everything,
                # at the same moment): saving would insert it again under its old id.
                raise Monitor.DoesNotExist(f"monitor {monitor.pk} was deleted")
            if (stored["kind"], stored["target"]) != (monitor.kind, monitor.target):
                # What a run remembered (a route, a pinned host key) was of another target.
                reset["memory"] = None
        monitor.save()
        # results.MonitorState, through the reverse relation: monitors does not import results.
        monitor_state = Monitor._meta.get_field("state").related_model
        monitor_state.objects.update_or_create(monitor=monitor, defaults=reset)
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


def _lock_monitors(monitors: QuerySet[Monitor]) -> list[int]:
    """Lock these monitors' rows in id order and return the ids of those that still exist.

    Every transaction that writes a monitor's results, state or alerts locks the monitor
    first, in id order (``batch_record``, ``start_claimed_batch``; the dispatcher skips
    locked rows): a delete that takes the same locks in the same order first waits for a
    batch being recorded, or makes it wait and then drop the monitors it deleted. Deleting
    without them deadlocked with the batch (the delete holding the results or states the
    batch was writing, the batch holding the monitor the delete had come to) or failed on a
    result inserted meanwhile, and the whole delete was rolled back.
    """
    return list(monitors.select_for_update().order_by("pk").values_list("pk", flat=True))


def monitor_delete(monitor: Monitor) -> bool:
    """Delete a monitor and its results; a run in flight for it is dropped when it ends.

    Returns False when it was already gone (deleted at the same moment by someone else).
    """
    with transaction.atomic():
        if not _lock_monitors(Monitor.objects.filter(pk=monitor.pk)):
            return False
        monitor.delete()
    return True


def monitors_delete_all() -> int:
    """Delete every monitor and every result; returns how many monitors were deleted.

    Deletes the monitors there are when it starts (a monitor created meanwhile stays), in
    groups of ``DELETE_GROUP_SIZE``, in one transaction.
    """
    deleted = 0
    with transaction.atomic():
        ids = _lock_monitors(Monitor.objects.all())
        for start in range(0, len(ids), DELETE_GROUP_SIZE):
            group = ids[start : start + DELETE_GROUP_SIZE]
            _, per_model = Monitor.objects.filter(pk__in=group).delete()
            deleted += per_model.get(Monitor._meta.label, 0)
    return deleted


def _editable(fields: Mapping[str, object]) -> dict[str, object]:
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"not editable monitor fields: {', '.join(sorted(unknown))}")
    return dict(fields)


def check_once(request: CheckRequest) -> CheckResult:
    """Run one check through the engine now, without storing anything (one-off checks:
    ``manage.py probe``, the API's test action, the dashboard's "test now" button)."""
    return run_checks_sync([request], concurrency=1)[0]
