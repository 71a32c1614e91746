"""Celery tasks of the monitoring loop: the dispatcher and the probe batches. Thin: they take
ids and call services; ``loop.batches.batch_record`` records what a batch ran.

Their names stay ``monitors.tasks.…`` (where they were first): django-celery-beat's stored
rows, messages already queued and the routes in settings name them so."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections import Counter
from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from loop.batches import batch_record
from metrics.services import slots_skipped_count, worker_heartbeat
from monitors.engine import iter_completed_checks
from monitors.probes import remembers
from monitors.scheduling import (
    Claim,
    claim_due_monitors,
    release_claims,
    start_claimed_batch,
)
from results.selectors import monitor_memories
from results.services import RunRecord

logger = logging.getLogger(__name__)

# A batch claimed ahead is released to the pool this long before its first slot, enough to
# start it (lease, event loop); the engine then starts each check on its own slot.
ETA_HEADROOM = timedelta(milliseconds=200)

# A batch records its results as its checks end: a group is written once it holds this many
# results, or this long after its first result came in (whichever is first).
RECORD_GROUP_SIZE = 500
RECORD_EVERY_SECONDS = 0.5


# Named as before the move: beat's rows and queued messages carry the task's name.
@shared_task(name="monitors.tasks.dispatch_due_monitors", ignore_result=True)
def dispatch_due_monitors() -> int:
    """Claim every due monitor and enqueue them in batches on the ``probes`` queue."""
    worker_heartbeat()  # /api/status "workers seen"; writes at most every 15 s
    now = timezone.now()
    token, claims = claim_due_monitors(
        now=now,
        limit=settings.NANOMON_DISPATCH_LIMIT,
        lease=timedelta(seconds=settings.NANOMON_LEASE_GRACE_SECONDS),
        lookahead=timedelta(seconds=settings.NANOMON_DISPATCH_LOOKAHEAD_SECONDS),
    )
    size = settings.NANOMON_DISPATCH_BATCH_SIZE
    for start in range(0, len(claims), size):
        batch = claims[start : start + size]
        items = [[claim.monitor_id, claim.scheduled_for.isoformat()] for claim in batch]
        first_slot = batch[0].scheduled_for  # claims come oldest slot first
        if first_slot - ETA_HEADROOM > now:
            # Claimed ahead of its slot: the batch waits in the worker's timer, not in a pool
            # slot (a prefork child or thread sleeping until the slot would serve nothing).
            run_probe_batch.apply_async((str(token), items), eta=first_slot - ETA_HEADROOM)
        else:
            run_probe_batch.delay(str(token), items)
    if claims:
        logger.debug("dispatched %d monitors", len(claims))
    if behind := [claim for claim in claims if claim.skipped]:
        _count_skipped_slots(behind)
    return len(claims)


def _count_skipped_slots(behind: list[Claim]) -> None:
    """Count and log the slots skipped by monitors that were one interval or more behind."""
    by_kind: Counter[str] = Counter()
    for claim in behind:
        by_kind[claim.kind] += claim.skipped
    slots_skipped_count(by_kind)
    examples = ", ".join(
        f"monitor {claim.monitor_id}: {claim.skipped}"
        for claim in sorted(behind, key=lambda claim: -claim.skipped)[:3]
    )
    logger.warning(
        "%d monitor(s) were one interval or more behind their schedule (a run outlasting "
        "the interval, an expired lease or a stopped dispatcher): %d slot(s) skipped (%s%s)",
        len(behind),
        by_kind.total(),
        examples,
        ", …" if len(behind) > 3 else "",
    )


# Named as before the move: queued messages and the "probes" route carry the task's name.
@shared_task(name="monitors.tasks.run_probe_batch", ignore_result=True)
def run_probe_batch(token: str, items: list[list]) -> int:
    """Run a claimed batch concurrently and record each result soon after its check ends;
    returns how many were stored.

    Results are written in small groups as checks end (``RECORD_EVERY_SECONDS``,
    ``RECORD_GROUP_SIZE``), each group in one transaction that also releases its monitors'
    claims: a monitor whose target never answers delays only its own result and its own next
    run, not those of the monitors batched with it. If the task fails, the claims not yet
    recorded are released so the next slot runs.
    """
    batch_token = uuid.UUID(token)
    scheduled = {int(monitor_id): datetime.fromisoformat(when) for monitor_id, when in items}
    monitors = start_claimed_batch(
        token=batch_token,
        monitor_ids=scheduled,
        now=timezone.now(),
        grace=timedelta(seconds=settings.NANOMON_LEASE_GRACE_SECONDS),
    )
    if not monitors:
        return 0
    unrecorded = {monitor.id for monitor in monitors}
    stored = 0
    memories = monitor_memories([monitor for monitor in monitors if remembers(monitor.kind)])
    checks = iter_completed_checks(
        [monitor.check_request(memories.get(monitor.id)) for monitor in monitors],
        concurrency=settings.NANOMON_PROBE_CONCURRENCY,
        not_before=[scheduled[monitor.id] for monitor in monitors],  # claimed ahead
        flush_seconds=RECORD_EVERY_SECONDS,
        group_size=RECORD_GROUP_SIZE,
    )
    try:
        # closing: a failure while recording cancels the checks still running at once.
        with contextlib.closing(checks):
            for group in checks:
                runs = [
                    RunRecord(
                        monitor_id=monitors[index].id,
                        monitor_name=monitors[index].name,
                        monitor_target=monitors[index].target,
                        scheduled_for=scheduled[monitors[index].id],
                        check=check,
                        monitor_kind=monitors[index].kind,
                    )
                    for index, check in group
                ]
                stored += len(batch_record(token=batch_token, runs=runs))
                unrecorded.difference_update(run.monitor_id for run in runs)
    except BaseException:
        try:
            release_claims(batch_token, sorted(unrecorded))
        except Exception:  # e.g. the database is gone: the leases expire instead
            logger.exception("could not release %d claims of a failed batch", len(unrecorded))
        raise
    return stored
