"""Maintenance windows applied to alerting (docs/alerting.md, Maintenance).

During an active window a covered monitor keeps running and storing results, and its alert
state still moves (a transition is recorded), but a DOWN opens no notification: the state is
marked *held* (``AlertState.held_at``). Reminders wait too. When the window ends with the
monitor still down, the sweeper (``alerts.sweep``) releases the held alert: the DOWN
notification of that outage goes out then. A monitor that recovers while held sends nothing
(nobody was told it was down). Whether a stored result ran inside a window is computed when it
is read (``results_in_maintenance``), never written into the result.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from django.db import transaction
from django.db.models import Q

from alerts.dependencies import held_by_dependencies
from alerts.models import AlertLevel, AlertState, MaintenanceWindow, Notification
from alerts.outbox import channel_ids_by_monitor, enqueue_on_commit
from monitors.models import Monitor


def windows_open(now: datetime) -> list[MaintenanceWindow]:
    """The windows that may be active at ``now`` (bounds checked in SQL), targets prefetched;
    ``MaintenanceWindow.is_active`` decides."""
    return list(
        MaintenanceWindow.objects.filter(
            Q(starts_at__isnull=True) | Q(starts_at__lte=now),
            Q(ends_at__isnull=True) | Q(ends_at__gt=now),
        ).prefetch_related("monitors")
    )


def window_monitor_ids(window: MaintenanceWindow, candidates: set[int]) -> set[int]:
    """Which of ``candidates`` the window covers: every monitor, or those chosen and those
    with any of its tags. The one place that reads targets."""
    if window.all_monitors:
        return set(candidates)
    covered = {monitor.pk for monitor in window.monitors.all()} & candidates
    if window.tags and candidates - covered:
        wanted = set(window.tags)
        covered |= {
            monitor_id
            for monitor_id, tags in Monitor.objects.filter(pk__in=candidates - covered).values_list(
                "pk", "tags"
            )
            if wanted.intersection(tags or ())
        }
    return covered


def monitors_in_maintenance(monitor_ids: Iterable[int], now: datetime) -> set[int]:
    """Which of these monitors an active window covers at ``now``. One query for the windows
    (plus one for their monitors) whatever the number of monitors."""
    candidates = set(monitor_ids)
    covered: set[int] = set()
    if not candidates:
        return covered
    for window in windows_open(now):
        if window.is_active(now):
            covered |= window_monitor_ids(window, candidates - covered)
    return covered


def monitor_maintenance(monitor_id: int, now: datetime) -> list[tuple[MaintenanceWindow, datetime]]:
    """The windows covering one monitor now, each with the end of its current occurrence."""
    active = []
    for window in windows_open(now):
        occurrence = window.occurrence_at(now)
        if occurrence and window_monitor_ids(window, {monitor_id}):
            active.append((window, occurrence[1]))
    return active


def results_in_maintenance(
    monitor_id: int, moments: Sequence[datetime], windows: Sequence[MaintenanceWindow] | None = None
) -> list[bool]:
    """For each of a monitor's result times, whether a window covering it was active then (the
    read-time mark of results stored during maintenance)."""
    if windows is None:
        windows = [
            window
            for window in MaintenanceWindow.objects.prefetch_related("monitors")
            if window_monitor_ids(window, {monitor_id})
        ]
    return [any(window.is_active(moment) for window in windows) for moment in moments]


def results_marked(results: Iterable) -> set[int]:
    """The ids of the results (any objects with ``pk``, ``monitor_id`` and ``date``) that ran
    inside a window covering their monitor: for result tables. One query (two when windows
    exist) for the whole list."""
    windows = list(MaintenanceWindow.objects.prefetch_related("monitors"))
    if not windows:
        return set()
    covers = [
        (window, window.all_monitors, {monitor.pk for monitor in window.monitors.all()})
        for window in windows
    ]
    return {
        result.pk
        for result in results
        if any(
            (every or result.monitor_id in chosen) and window.is_active(result.date)
            for window, every, chosen in covers
        )
    }


def held_release(now: datetime) -> list[int]:
    """Send the held DOWN alerts of monitors whose windows have ended and that are still down;
    returns the notification ids created (queued on commit). Call in a transaction."""
    held = list(
        AlertState.objects.filter(
            state=AlertLevel.DOWN, held_at__isnull=False, last_transition__isnull=False
        ).select_related("monitor__alert_policy")
    )
    if not held:
        return []
    still = monitors_in_maintenance({standing.monitor_id for standing in held}, now)
    # Held by a dependency too (a parent still down, every canary down): alerts.dependencies.
    still |= set(held_by_dependencies({standing.monitor_id for standing in held} - still))
    released: list[tuple[AlertState, bool]] = []
    for standing in held:
        if standing.monitor_id in still:
            continue
        claimed = AlertState.objects.filter(
            pk=standing.pk, version=standing.version, held_at__isnull=False
        ).update(held_at=None, reminded_at=now)  # reminders count from the release
        policy = getattr(standing.monitor, "alert_policy", None)
        if claimed and standing.monitor.enabled and not (policy and policy.muted):
            released.append((standing, policy is not None and not policy.use_default_channels))
    if not released:
        return []
    channels = channel_ids_by_monitor(
        {standing.monitor_id for standing, _ in released},
        custom={standing.monitor_id for standing, own in released if own},
    )
    rows = Notification.objects.bulk_create(
        [
            Notification(
                transition_id=standing.last_transition_id,
                channel_id=channel_id,
                event=Notification.Event.DOWN,
                next_attempt_at=now,
                created_at=now,
            )
            for standing, _ in released
            for channel_id in channels.get(standing.monitor_id, [])
        ],
        ignore_conflicts=False,
    )
    ids = [row.pk for row in rows]
    enqueue_on_commit(ids)
    return ids


def window_save(window: MaintenanceWindow, *, monitors: Iterable[int] | None = None) -> None:
    """Validate and store a window and its monitors (every entry point goes through here);
    raises ``ValidationError`` and stores nothing."""
    window.full_clean()
    with transaction.atomic():
        window.save()
        if monitors is not None:
            window.monitors.set(list(monitors))
