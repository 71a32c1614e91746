"""Pings of push monitors: a job reporting in (docs/push.md).

``ping_record`` takes one ping and, in one transaction with the monitor locked, does what a
probe batch does for a run (``loop.batches.runs_record``: the result, the state, rollups,
alert transitions, counters) and moves the monitor's deadline to one period plus its grace
from now, dropping any claim of the deadline it beat: the dispatcher's missed-deadline run,
if already claimed, is then not recorded (``batch_record`` keeps only runs of monitors still
held by their batch's token). A ``start`` ping records no result: it remembers when the run
began, and the next ping's ``duration`` is measured from it.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from loop.batches import runs_record
from monitors.engine import CheckResult, CheckStatus, apply_rule
from monitors.models import Monitor
from monitors.passive import passive_deadline
from monitors.probes import push
from monitors.scheduling import schedules_set
from results.models import MonitorState
from results.services import RunRecord


class PingKind(enum.Enum):
    SUCCESS = "success"  # /ping/<token>, Uptime Kuma's status=up
    FAIL = "fail"  # /ping/<token>/fail, Uptime Kuma's status=down
    START = "start"  # /ping/<token>/start
    EXIT = "exit"  # /ping/<token>/<exit code>


@dataclass(frozen=True)
class Ping:
    """One ping as received: ``message`` is the body (or Uptime Kuma's ``msg``), already cut
    to ``push.BODY_LIMIT`` bytes; ``duration_ms`` is Uptime Kuma's ``ping=`` when given."""

    token: str
    kind: PingKind
    exit_code: int = 0
    message: str = ""
    duration_ms: float | None = None


def ping_record(ping: Ping, *, now: datetime | None = None) -> bool:
    """Record ``ping``; False when no push monitor has its token (nothing is written)."""
    return pings_record([(ping, now or timezone.now())])[0]


def pings_record(pings: Sequence[tuple[Ping, datetime]]) -> list[bool]:
    """Record a group of pings, each with the moment it came, in one transaction; for each,
    whether a push monitor has its token. At most one ping per token (the caller keeps a
    token's later pings for the next group: a group records one run per monitor)."""
    tokens = [ping.token for ping, _ in pings]
    if len(set(tokens)) != len(tokens):
        raise ValueError("a group holds at most one ping per token")
    with transaction.atomic():
        monitors = {
            monitor.push_token: monitor
            for monitor in Monitor.objects.select_for_update()
            .filter(push_token__in=tokens, kind=push.PROBE.kind)
            .order_by("pk")  # locked in id order, as every writer of monitors locks them
            .only("id", "name", "target", "kind", "rule", "interval", "properties", "enabled",
                  "push_token")
        }  # fmt: skip
        memories = dict(
            MonitorState.objects.filter(
                monitor_id__in=[monitor.pk for monitor in monitors.values()]
            ).values_list("monitor_id", "memory")
        )
        starts: list[MonitorState] = []
        runs: list[RunRecord] = []
        for ping, now in pings:
            monitor = monitors.get(ping.token)
            if monitor is None:
                continue
            if ping.kind is PingKind.START:
                starts.append(
                    MonitorState(monitor_id=monitor.pk, memory={"startedAt": now.isoformat()})
                )
                continue
            check = _check_result(ping, monitor, memories.get(monitor.pk) or {}, now)
            runs.append(
                RunRecord(monitor.pk, monitor.name, monitor.target, now, check, monitor.kind)
            )
        if starts:
            MonitorState.objects.bulk_create(
                starts, update_conflicts=True, unique_fields=["monitor"], update_fields=["memory"]
            )
        if runs:
            runs_record(runs, held={run.monitor_id for run in runs})
            by_id = {monitor.pk: monitor for monitor in monitors.values()}
            _next_deadlines([(by_id[run.monitor_id], run.scheduled_for) for run in runs])
    return [ping.token in monitors for ping, _ in pings]


def _check_result(ping: Ping, monitor: Monitor, memory: dict, now: datetime) -> CheckResult:
    """The run a ping reports: OK as the rule says for a success, Error for a failure."""
    outputs: dict[str, float | str] = {
        "exitCode": {PingKind.FAIL: 1, PingKind.EXIT: ping.exit_code}.get(ping.kind, 0)
    }
    if started := memory.get("startedAt"):
        outputs["duration"] = round(
            (now - datetime.fromisoformat(started)).total_seconds() * 1e3, 3
        )
    elif ping.duration_ms is not None:
        outputs["duration"] = ping.duration_ms
    if outputs["exitCode"] == 0:
        status, message = apply_rule(monitor.rule, outputs)
        if status == CheckStatus.OK:
            message = ping.message
    else:
        status = CheckStatus.ERROR
        fallback = (
            "job reported failure" if ping.kind is PingKind.FAIL else f"exit code {ping.exit_code}"
        )
        message = ping.message or fallback
    return CheckResult(
        status=status,
        value=float(outputs.get("duration", 0.0)),
        message=message,
        outputs=dict(outputs),
        stored_outputs=dict(outputs),
        started_at=now,
        duration_seconds=0.0,
        memory={},  # the run ended: a later ping measures from its own start
    )


def _next_deadlines(pinged: Sequence[tuple[Monitor, datetime]]) -> None:
    """Each pinged monitor's next ping is due one period plus its grace after this one; any
    claim of the deadline it beat is dropped (a disabled monitor keeps having none)."""
    moves: list[tuple[int, datetime | None]] = []
    for monitor, now in pinged:
        deadline = None
        if monitor.enabled:
            try:
                deadline = passive_deadline(monitor, now)
            except ValueError:  # stored properties no longer valid: runs at once, Failed
                deadline = now
        moves.append((monitor.pk, deadline))
    schedules_set(moves)
