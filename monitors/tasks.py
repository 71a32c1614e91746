"""Celery tasks of the monitoring loop. Thin: they take ids and call services."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from metrics.services import worker_heartbeat
from monitors.engine import run_checks_sync
from monitors.scheduling import claim_due_monitors, release_claims, start_claimed_batch
from results.services import RunRecord, results_record

logger = logging.getLogger(__name__)

# A batch claimed ahead is released to the pool this long before its first slot, enough to
# start it (lease, event loop); the engine then starts each check on its own slot.
ETA_HEADROOM = timedelta(milliseconds=200)


@shared_task(ignore_result=True)
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
    return len(claims)


@shared_task(ignore_result=True)
def run_probe_batch(token: str, items: list[list]) -> int:
    """Run a claimed batch concurrently and record its results; returns how many were stored."""
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
    try:
        checks = run_checks_sync(
            [monitor.check_request() for monitor in monitors],
            concurrency=settings.NANOMON_PROBE_CONCURRENCY,
            not_before=[scheduled[monitor.id] for monitor in monitors],  # claimed ahead
        )
    except BaseException:
        release_claims(batch_token, [monitor.id for monitor in monitors])
        raise
    stored = results_record(
        token=batch_token,
        runs=[
            RunRecord(
                monitor_id=monitor.id,
                monitor_name=monitor.name,
                monitor_target=monitor.target,
                scheduled_for=scheduled[monitor.id],
                check=check,
                monitor_kind=monitor.kind,
            )
            for monitor, check in zip(monitors, checks, strict=True)
        ],
    )
    return len(stored)
