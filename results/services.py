"""Recording runs: results and the monitors' current state, written together."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from alerts.services import transitions_record
from metrics.services import engine_stats_record
from monitors.engine import CheckResult
from monitors.models import Monitor
from monitors.scheduling import release_claims
from results.models import MonitorState, Result, Status


@dataclass(frozen=True)
class RunRecord:
    """One finished run of a claimed monitor, with the definition it ran."""

    monitor_id: int
    monitor_name: str
    monitor_target: str
    scheduled_for: datetime
    check: CheckResult
    monitor_kind: str = ""  # the monitor's type, for the engine's counters


def results_record(*, token: uuid.UUID, runs: Sequence[RunRecord]) -> list[Result]:
    """Store a batch's results in one bulk insert and update each monitor's state with it.

    Runs of monitors no longer held by ``token`` (deleted, updated or disabled since they
    were claimed) are dropped: their result would describe a monitor that no longer exists
    in that form. Returns the stored results.
    """
    by_monitor = {run.monitor_id: run for run in runs}
    with transaction.atomic():
        # Locked in id order, as every writer of monitors locks them (monitors.services):
        # two transactions waiting for each other's monitors would deadlock.
        held = set(
            Monitor.objects.select_for_update()
            .filter(pk__in=by_monitor, run_token=token)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        kept = [run for run in runs if run.monitor_id in held]
        streaks = dict(
            MonitorState.objects.filter(monitor_id__in=held).values_list(
                "monitor_id", "consecutive_failures"
            )
        )
        results = Result.objects.bulk_create(
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
                for run in kept
            ],
            batch_size=1000,
        )
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
                else streaks.get(run.monitor_id, 0) + 1,
            )
            for run in kept
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
            ],
            batch_size=1000,
        )
        engine_stats_record(runs=runs, written=kept)  # Prometheus counters, same transaction
        # Alerting: transitions and their outbox rows commit with the results, or not at all.
        transitions_record(
            results=results,
            failure_streaks={state.monitor_id: state.consecutive_failures for state in states},
            now=timezone.now(),
        )
        release_claims(token, list(held))
    return results


def results_delete_all() -> int:
    """Delete every result; monitors keep their current state. Returns how many went."""
    deleted, _ = Result.objects.all().delete()
    return deleted
