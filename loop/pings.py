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
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from lib.durations import parse_duration
from loop.batches import runs_record
from monitors.engine import CheckResult, CheckStatus, apply_rule
from monitors.models import Monitor
from monitors.probes import push
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
    now = now or timezone.now()
    with transaction.atomic():
        monitor = (
            Monitor.objects.select_for_update()
            .filter(push_token=ping.token, kind=push.PROBE.kind)
            .only("id", "name", "target", "kind", "rule", "interval", "properties", "enabled")
            .first()
        )
        if monitor is None:
            return False
        memory = (
            MonitorState.objects.filter(monitor_id=monitor.pk)
            .values_list("memory", flat=True)
            .first()
        ) or {}
        if ping.kind is PingKind.START:
            MonitorState.objects.update_or_create(
                monitor_id=monitor.pk, defaults={"memory": {"startedAt": now.isoformat()}}
            )
            return True
        check = _check_result(ping, monitor, memory, now)
        runs_record(
            [
                RunRecord(
                    monitor_id=monitor.pk,
                    monitor_name=monitor.name,
                    monitor_target=monitor.target,
                    scheduled_for=now,
                    check=check,
                    monitor_kind=monitor.kind,
                )
            ],
            held={monitor.pk},
        )
        _next_deadline(monitor, now)
    return True


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


def _next_deadline(monitor: Monitor, now: datetime) -> None:
    """The next ping is due one period plus the grace from now; any claim is dropped."""
    deadline = None
    if monitor.enabled:
        grace = push.grace_seconds(monitor.properties or {})
        deadline = now + timedelta(seconds=parse_duration(monitor.interval) + grace)
    Monitor.objects.filter(pk=monitor.pk).update(
        next_run_at=deadline, lease_until=None, run_token=None
    )
