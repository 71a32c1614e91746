"""The conductor of a probe batch: everything a group of finished runs changes, in one
transaction and in a fixed order.

``batch_record`` is the one place the monitoring loop's steps meet; each app below does its
own step and knows nothing of the others: results (``results.services``), alert transitions
(``alerts.transitions``), counters (``metrics.services``, plain values) and claims
(``monitors.scheduling``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence

from django.db import OperationalError, connection, transaction
from django.utils import timezone

from alerts.maintenance import runs_in_maintenance
from alerts.transitions import transitions_record
from metrics.services import ProbeRun, engine_stats_record
from monitors.models import Monitor
from monitors.scheduling import release_claims
from results.models import Result
from results.rollups import rollups_add
from results.services import RunRecord, monitor_states_update, results_store

logger = logging.getLogger(__name__)

# SQLSTATE 40P01: PostgreSQL rolled the transaction back to break a deadlock.
DEADLOCK_DETECTED = "40P01"
DEADLOCK_ATTEMPTS = 3


def batch_record(*, token: uuid.UUID, runs: Sequence[RunRecord]) -> list[Result]:
    """Record a group of finished runs of the batch claimed with ``token``; returns the
    stored results.

    In one transaction: lock the runs' monitors, store the results, update the monitors'
    state and failure streaks, add the results to their hour and day rollups (counted with
    the results, or not at all; those that started in a maintenance window counted apart),
    apply the alert state machine (transitions and their outbox rows commit with the
    results, or not at all), add the engine's counters and release the claims. Runs of
    monitors no longer held by ``token`` (deleted, updated or disabled since they were
    claimed) are dropped: their result would describe a monitor that no longer exists in
    that form; they are still counted as probes run.
    """
    attempt = 1
    while True:
        try:
            return _record(token, runs)
        except OperationalError as error:
            # PostgreSQL broke a deadlock (e.g. with a concurrent delete or import touching the
            # same rollup keys) by rolling this whole transaction back: nothing of it was
            # written, so doing it again records the batch exactly once. Inside an outer
            # transaction (none in the loop) it could not start afresh: re-raised there.
            deadlock = getattr(error.__cause__, "sqlstate", None) == DEADLOCK_DETECTED
            if not deadlock or attempt == DEADLOCK_ATTEMPTS or connection.in_atomic_block:
                raise
            attempt += 1
            logger.warning("recording a batch hit a deadlock; attempt %d", attempt)


def _record(token: uuid.UUID, runs: Sequence[RunRecord]) -> list[Result]:
    with transaction.atomic():
        held = _lock_held(token, {run.monitor_id for run in runs})
        results = runs_record(runs, held=held)
        release_claims(token, sorted(held))
    return results


def runs_record(runs: Sequence[RunRecord], *, held: set[int]) -> list[Result]:
    """The steps of recording ``runs`` whose monitors are locked by the caller's transaction,
    keeping those of the ``held`` monitors: results, state, rollups, alert transitions and
    counters (every run counts as a probe run). Also a push monitor's ping (``loop.pings``)."""
    kept = [run for run in runs if run.monitor_id in held]
    results = results_store(kept)
    failure_streaks = monitor_states_update(kept)
    rollups_add(results, runs_in_maintenance([(r.monitor_id, r.date) for r in results]))
    transitions_record(results=results, failure_streaks=failure_streaks, now=timezone.now())
    engine_stats_record(probes=_probe_runs(runs), written=[run.monitor_kind for run in kept])
    return results


def _lock_held(token: uuid.UUID, monitor_ids: Iterable[int]) -> set[int]:
    """Lock the monitors still claimed with ``token``; returns their ids.

    Locked in id order, as every writer of monitors locks them (monitors.services): two
    transactions waiting for each other's monitors would deadlock.
    """
    return set(
        Monitor.objects.select_for_update()
        .filter(pk__in=list(monitor_ids), run_token=token)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _probe_runs(runs: Sequence[RunRecord]) -> list[ProbeRun]:
    return [
        ProbeRun(
            kind=run.monitor_kind,
            status=int(run.check.status),
            duration_seconds=run.check.duration_seconds,
            lag_seconds=(run.check.started_at - run.scheduled_for).total_seconds(),
        )
        for run in runs
    ]
