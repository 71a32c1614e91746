"""The alert state machine: a batch's stored results move each monitor's alert state.

``next_alert_state``, per monitor, over the runs ``loop.batches.batch_record`` stores:

* a non-OK run (Error or Failed) makes the monitor DOWN when its failure streak reaches the
  fail threshold (``MonitorAlertPolicy.fail_threshold``, default ``ALERT_FAIL_COUNT``);
  further failures while DOWN change nothing (one alert per outage);
* while DOWN, OK runs count up; the recover threshold of them in a row (default
  ``ALERT_RECOVER_COUNT``) makes it UP again; a failure in between starts that count over;
* a new monitor is UNKNOWN; its first OK run makes it UP without a notification; reaching the
  fail threshold from UNKNOWN makes it DOWN with a notification.
* an update of a monitor resets its failure streak (``monitor_save``) but leaves its alert state
  as it is: an open outage stays open (failures after the update send nothing new) and the
  first OK runs send the recovery. A disabled monitor has no runs, so no transitions; its
  pending notifications and reminders are cancelled.
* a DOWN while an active maintenance window covers the monitor is recorded but *held*: no
  notification now (``alerts.maintenance``: the sweeper sends it when the window ends with
  the monitor still down); a recovery from a held DOWN sends nothing. A DOWN while a parent
  is down, or while every canary is down, is held the same way (``alerts.dependencies``).
* any change of state clears an acknowledgement and the escalation mark (``alerts.acknowledge``):
  they last one outage.

Guarantees: a transition is claimed with a conditional update on ``AlertState.version`` (and a
unique (monitor, state_version) constraint), inside ``batch_record``'s transaction, together
with its outbox rows (one ``Notification`` per channel, ``alerts.outbox``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from alerts.dependencies import held_by_dependencies
from alerts.maintenance import monitors_in_maintenance
from alerts.models import AlertLevel, AlertState, Notification, Transition
from alerts.outbox import channel_ids_by_monitor, enqueue_on_commit
from lib.status import Status
from monitors.models import Monitor
from results.models import Result

logger = logging.getLogger(__name__)


def next_alert_state(
    state: str,
    ok_streak: int,
    *,
    ok: bool,
    failures: int,
    fail_threshold: int,
    recover_threshold: int,
) -> tuple[str, int]:
    """The alert state and OK streak after one run (see the module docstring); pure."""
    if not ok:
        if state != AlertLevel.DOWN and failures >= fail_threshold:
            return AlertLevel.DOWN, 0
        return state, 0
    if state == AlertLevel.DOWN:
        if ok_streak + 1 >= recover_threshold:
            return AlertLevel.UP, 0
        return AlertLevel.DOWN, ok_streak + 1
    return AlertLevel.UP, 0


def event_for(from_state: str, to_state: str) -> str | None:
    """The notification a transition sends, if any (UNKNOWN -> UP sends nothing)."""
    if to_state == AlertLevel.DOWN:
        return Notification.Event.DOWN
    if to_state == AlertLevel.UP and from_state == AlertLevel.DOWN:
        return Notification.Event.UP
    return None


@dataclass(frozen=True)
class _Standing:
    """A monitor's alert state and policy, as loaded for one batch."""

    exists: bool
    state: str
    ok_streak: int
    version: int
    fail_threshold: int
    recover_threshold: int
    muted: bool
    use_default_channels: bool
    held: bool


def transitions_record(
    *, results: Sequence[Result], failure_streaks: Mapping[int, int], now: datetime
) -> list[Transition]:
    """Apply a batch's stored results to the alert state machine; return the transitions.

    Call inside the transaction that stored ``results`` (``batch_record`` does, while it
    holds the monitors' rows locked). ``failure_streaks`` maps each monitor to its non-OK
    streak after the batch (``MonitorState.consecutive_failures``); a batch holds at most one
    result per monitor. Each transition is claimed with a conditional update and written with
    one pending ``Notification`` per channel; their delivery is queued once the transaction
    commits (the sweeper queues them if the broker was down).

    Cost: one query for the whole batch when nothing changes; writes only for changes.
    """
    latest = {result.monitor_id: result for result in results}
    if not latest:
        return []
    standings = _load_standings(latest)
    changes: list[tuple[Result, _Standing, str, int]] = []
    for monitor_id, result in latest.items():
        standing = standings.get(monitor_id)
        if standing is None:  # deleted meanwhile
            continue
        new_state, new_ok_streak = next_alert_state(
            standing.state,
            standing.ok_streak,
            ok=result.status == Status.OK,
            failures=failure_streaks.get(monitor_id, 0),
            fail_threshold=standing.fail_threshold,
            recover_threshold=standing.recover_threshold,
        )
        if (new_state, new_ok_streak) != (standing.state, standing.ok_streak):
            changes.append((result, standing, new_state, new_ok_streak))
    if not changes:
        return []

    missing = [result.monitor_id for result, standing, _, _ in changes if not standing.exists]
    if missing:
        AlertState.objects.bulk_create(
            [AlertState(monitor_id=monitor_id) for monitor_id in missing], ignore_conflicts=True
        )
    going_down = {
        result.monitor_id
        for result, standing, new_state, _ in changes
        if new_state == AlertLevel.DOWN and standing.state != AlertLevel.DOWN
    }
    held = monitors_in_maintenance(going_down, now) if going_down else set()
    if going_down - held:  # a down parent, or every canary down (alerts.dependencies)
        settled = {result.monitor_id: new_state for result, _, new_state, _ in changes}
        held |= set(held_by_dependencies(going_down - held, settled))
    transitions: list[Transition] = []
    for result, standing, new_state, new_ok_streak in changes:
        moved = new_state != standing.state
        fields: dict[str, object] = {
            "state": new_state,
            "ok_streak": new_ok_streak,
            "version": standing.version + 1,
        }
        if moved:
            fields.update(
                changed_at=now,
                reminders_sent=0,
                reminded_at=None,
                held_at=now if result.monitor_id in held else None,
                acknowledged_at=None,  # an acknowledgement lasts one outage
                acknowledged_by=None,
                acknowledged_reason="",
                escalated_at=None,
            )
        claimed = AlertState.objects.filter(
            monitor_id=result.monitor_id, state=standing.state, version=standing.version
        ).update(**fields)
        if not claimed or not moved:
            continue
        transitions.append(
            Transition(
                monitor_id=result.monitor_id,
                from_state=standing.state,
                to_state=new_state,
                reason=result.message if new_state == AlertLevel.DOWN else "",
                failures=failure_streaks.get(result.monitor_id, 0),
                value=result.value,
                result_id=result.pk,
                monitor_name=result.monitor_name,
                monitor_target=result.monitor_target,
                happened_at=result.date,
                created_at=now,
                state_version=standing.version + 1,
            )
        )
    if not transitions:
        return []
    Transition.objects.bulk_create(transitions)
    AlertState.objects.bulk_update(
        [AlertState(monitor_id=item.monitor_id, last_transition=item) for item in transitions],
        ["last_transition"],
    )
    notifying = [
        item
        for item in transitions
        if event_for(item.from_state, item.to_state)
        and not standings[item.monitor_id].muted
        and item.monitor_id not in held  # a DOWN held by maintenance
        and not (item.to_state == AlertLevel.UP and standings[item.monitor_id].held)
    ]
    if notifying:
        channels = channel_ids_by_monitor(
            {item.monitor_id for item in notifying},
            custom={m for m, standing in standings.items() if not standing.use_default_channels},
        )
        created = Notification.objects.bulk_create(
            [
                Notification(
                    transition=item,
                    channel_id=channel_id,
                    event=event_for(item.from_state, item.to_state),
                    next_attempt_at=now,
                    created_at=now,
                )
                for item in notifying
                for channel_id in channels.get(item.monitor_id, [])
            ]
        )
        enqueue_on_commit([notification.pk for notification in created])
    for item in transitions:
        logger.info(
            "monitor %s went %s -> %s (%s)",
            item.monitor_id,
            item.from_state,
            item.to_state,
            item.reason or "ok",
        )
    return transitions


def _load_standings(latest: Mapping[int, Result]) -> dict[int, _Standing]:
    """Alert state and policy of the batch's monitors, in one query."""
    rows = Monitor.objects.filter(pk__in=list(latest)).values_list(
        "pk",
        "alert_state__state",
        "alert_state__ok_streak",
        "alert_state__version",
        "alert_policy__fail_threshold",
        "alert_policy__recover_threshold",
        "alert_policy__muted",
        "alert_policy__use_default_channels",
        "alert_state__held_at",
    )
    standings = {}
    for pk, state, ok_streak, version, fail, recover, muted, use_defaults, held_at in rows:
        standings[pk] = _Standing(
            exists=state is not None,
            state=state or AlertLevel.UNKNOWN,
            ok_streak=ok_streak or 0,
            version=version or 0,
            fail_threshold=fail or settings.ALERT_FAIL_COUNT,
            recover_threshold=recover or settings.ALERT_RECOVER_COUNT,
            muted=bool(muted),
            use_default_channels=use_defaults is not False,
            held=held_at is not None,
        )
    return standings
