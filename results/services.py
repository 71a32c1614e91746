"""Writes of the results app: a batch's results and the monitors' current state.

The monitoring loop's conductor (``loop.batches.batch_record``) calls ``results_store`` and
``monitor_states_update`` inside its transaction, with the monitors' rows locked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from lib.status import Status
from monitors.engine import CheckResult
from results.models import MonitorState, Result, Rollup


@dataclass(frozen=True)
class RunRecord:
    """One finished run of a claimed monitor, with the definition it ran."""

    monitor_id: int
    monitor_name: str
    monitor_target: str
    scheduled_for: datetime
    check: CheckResult
    monitor_kind: str = ""  # the monitor's type, for the engine's counters


def results_store(runs: Sequence[RunRecord]) -> list[Result]:
    """Store one result per run in one bulk insert; returns the stored results."""
    return Result.objects.bulk_create(
        [
            Result(
                monitor_id=run.monitor_id,
                monitor_name=run.monitor_name,
                monitor_target=run.monitor_target,
                date=run.check.started_at,
                scheduled_for=run.scheduled_for,
                status=int(run.check.status),
                value=run.check.value,
                message=run.check.message,
                outputs=run.check.stored_outputs,
                duration_ms=run.check.duration_seconds * 1000,
            )
            for run in runs
        ],
        batch_size=1000,
    )


def monitor_states_update(runs: Sequence[RunRecord]) -> dict[int, int]:
    """Make each run its monitor's current state (one upsert) and count its streak of non-OK
    runs (an OK run ends it). Returns each monitor's streak after the batch (a batch holds at
    most one run per monitor)."""
    known = {
        monitor_id: (streak, memory)
        for monitor_id, streak, memory in MonitorState.objects.filter(
            monitor_id__in=[run.monitor_id for run in runs]
        ).values_list("monitor_id", "consecutive_failures", "memory")
    }
    states = [
        MonitorState(
            monitor_id=run.monitor_id,
            last_status=int(run.check.status),
            last_run_at=run.check.started_at,
            last_value=run.check.value,
            last_message=run.check.message,
            last_outputs=run.check.stored_outputs,
            consecutive_failures=0
            if run.check.status == Status.OK
            else known.get(run.monitor_id, (0, None))[0] + 1,
            memory=run.check.memory
            if run.check.memory is not None
            else known.get(run.monitor_id, (0, None))[1],
        )
        for run in runs
    ]
    MonitorState.objects.bulk_create(
        states,
        update_conflicts=True,
        unique_fields=["monitor"],
        update_fields=[
            "last_status",
            "last_run_at",
            "last_value",
            "last_message",
            "last_outputs",
            "consecutive_failures",
            "memory",
        ],
        batch_size=1000,
    )
    return {state.monitor_id: state.consecutive_failures for state in states}


def results_delete_all() -> int:
    """Delete every result and the rollups counted from them (uptime and charts start
    afresh); monitors keep their current state. Returns how many results went."""
    with transaction.atomic():
        deleted, _ = Result.objects.all().delete()
        Rollup.objects.all().delete()
    return deleted
