"""Maintenance windows applied to alerting (docs/alerting.md, Maintenance).

During an active window a covered monitor keeps running and storing results, and its alert
state still moves (a transition is recorded), but a DOWN opens no notification: the state is
marked *held* (``AlertState.held_at``). Reminders wait too. When the window ends with the
monitor still down, the sweeper (``alerts.sweep``) releases the held alert: the DOWN
notification of that outage goes out then. A monitor that recovers while held sends nothing
(nobody was told it was down). Whether a stored result ran inside a window is computed when it
is read (``results_marked``), never written into the result; the loop counts such runs apart in
the rollups when it stores them (``runs_in_maintenance``), and uptime leaves them out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
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


def window_monitor_ids(
    window: MaintenanceWindow,
    candidates: set[int],
    tags_of: Mapping[int, Sequence[str]] | None = None,
) -> set[int]:
    """Which of ``candidates`` the window covers: every monitor, or those chosen and those
    with any of its tags (read from ``tags_of`` when given, else one query). The one place
    that reads targets."""
    if window.all_monitors:
        return set(candidates)
    covered = {monitor.pk for monitor in window.monitors.all()} & candidates
    rest = candidates - covered
    if window.tags and rest:
        if tags_of is None:
            tags_of = _tags_of(rest)
        wanted = set(window.tags)
        covered |= {
            monitor_id for monitor_id in rest if wanted.intersection(tags_of.get(monitor_id) or ())
        }
    return covered


def _tags_of(monitor_ids: Iterable[int]) -> dict[int, list[str]]:
    return dict(Monitor.objects.filter(pk__in=list(monitor_ids)).values_list("pk", "tags"))


def _coverage(
    windows: Sequence[MaintenanceWindow], candidates: set[int]
) -> list[tuple[MaintenanceWindow, set[int]]]:
    """Each window with the candidates it covers; the candidates' tags read once (when a
    window selects by tag)."""
    tags_of = _tags_of(candidates) if any(window.tags for window in windows) else {}
    return [(window, window_monitor_ids(window, candidates, tags_of)) for window in windows]


def monitors_in_maintenance(monitor_ids: Iterable[int], now: datetime) -> set[int]:
    """Which of these monitors an active window covers at ``now``. One query for the windows
    (plus one for their monitors, and one for tags) whatever the number of monitors."""
    candidates = set(monitor_ids)
    if not candidates:
        return set()
    active = [window for window in windows_open(now) if window.is_active(now)]
    covered: set[int] = set()
    for _, monitors in _coverage(active, candidates):
        covered |= monitors
    return covered


def monitor_maintenance(monitor_id: int, now: datetime) -> list[tuple[MaintenanceWindow, datetime]]:
    """The windows covering one monitor now, each with the end of its current occurrence (the
    monitor's tags read once, whatever the number of windows)."""
    active = [
        (window, found) for window in windows_open(now) if (found := window.occurrence_at(now))
    ]
    coverage = _coverage([window for window, _ in active], {monitor_id})
    covering = {window.pk for window, covered in coverage if covered}
    return [(window, found[1]) for window, found in active if window.pk in covering]


def runs_in_maintenance(runs: Sequence[tuple[int, datetime]]) -> list[bool]:
    """For each ``(monitor_id, started)`` run, whether a window covering its monitor was
    active when it started: the mark of a result stored during maintenance (result tables),
    and what the loop counts apart in the rollups (uptime leaves those runs out). One query
    when no window overlaps the runs' span (the usual case), else two or three."""
    if not runs:
        return []
    moments = [moment for _, moment in runs]
    windows = list(
        MaintenanceWindow.objects.filter(
            Q(starts_at__isnull=True) | Q(starts_at__lte=max(moments)),
            Q(ends_at__isnull=True) | Q(ends_at__gt=min(moments)),
        ).prefetch_related("monitors")
    )
    if not windows:
        return [False] * len(runs)
    coverage = _coverage(windows, {monitor_id for monitor_id, _ in runs})
    return [
        any(monitor_id in covered and window.is_active(moment) for window, covered in coverage)
        for monitor_id, moment in runs
    ]


def maintenance_test(monitor_id: int) -> Callable[[datetime], bool]:
    """Whether a window covering this monitor (as the windows stand now) was active at a
    moment: for recounting a monitor's stored runs (``manage.py rollups_rebuild``). Reads the
    windows once."""
    windows = [
        window
        for window, covered in _coverage(
            list(MaintenanceWindow.objects.prefetch_related("monitors")), {monitor_id}
        )
        if covered
    ]
    return lambda moment: any(window.is_active(moment) for window in windows)


def results_marked(results: Iterable) -> set[int]:
    """The ids of the results (any objects with ``pk``, ``monitor_id`` and ``date``) that ran
    inside a window covering their monitor: for result tables (``runs_in_maintenance``)."""
    results = list(results)
    marks = runs_in_maintenance([(result.monitor_id, result.date) for result in results])
    return {result.pk for result, marked in zip(results, marks, strict=True) if marked}


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
