"""Which monitors are due, and claiming them so no monitor runs twice or overlaps itself.

Slots: each monitor runs at ``phase + k * interval`` (seconds since the epoch), where the
phase is a stable fraction of the interval derived from the monitor's id. Monitors with the
same interval are spread evenly over it, and each next slot is computed from the slot grid,
not from when the run happened, so schedules never drift. A monitor saved just now runs
at once (``next_run_at = now``), then joins its grid.

Claiming: one transaction selects due, unleased monitors (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL; SQLite's IMMEDIATE transactions serialise instead), moves each to its next slot
and stamps a batch token plus a lease. Workers ``start`` a batch by extending the lease
for the rows that still carry its token: an update or delete in between clears the token,
so a stale task runs nothing and records nothing.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.db.models import Q

from monitors.engine import deadline_for
from monitors.models import Monitor
from monitors.passive import passive_following
from monitors.probes import is_passive

# Knuth's multiplicative hash spreads consecutive ids evenly over [0, 1).
_GOLDEN = 2654435761
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def phase_fraction(monitor_id: int) -> float:
    """A stable number in [0, 1) for this monitor: where in its interval its slots fall."""
    return ((monitor_id * _GOLDEN) % 2**32) / 2**32


def next_slot(monitor_id: int, interval_seconds: float, after: datetime) -> datetime:
    """The first slot of this monitor's grid strictly after ``after``."""
    phase = phase_fraction(monitor_id) * interval_seconds
    elapsed = (after - _EPOCH).total_seconds() - phase
    # Slots are stored to the microsecond, so float rounding can put a slot a hair below
    # itself: ``after`` within a microsecond of a slot counts as that slot (the next one is
    # returned, never the same one again).
    index = math.floor((elapsed + 1e-6) / interval_seconds) + 1
    return _EPOCH + timedelta(seconds=round(phase + index * interval_seconds, 6))


def latest_due_slot(slot: datetime, interval_seconds: float, now: datetime) -> tuple[datetime, int]:
    """The latest of the slots ``slot``, ``slot + interval``, … that has come by ``now``, and
    how many slots before it were passed over (0 when ``slot`` is less than one interval old).

    A monitor is one interval or more behind when its previous run held it past its next slot
    (a timeout longer than the interval), or its lease had to expire, or the dispatcher was
    stopped. It then runs once, for the latest slot, and the slots in between are skipped.
    """
    behind = (now - slot).total_seconds()
    if behind < interval_seconds:
        return slot, 0
    skipped = math.floor(behind / interval_seconds)
    return min(now, slot + timedelta(seconds=skipped * interval_seconds)), skipped


@dataclass(frozen=True)
class Claim:
    """A monitor claimed for one run of the slot it was due in.

    ``skipped``: slots of this monitor that passed unrun before ``scheduled_for`` (see
    ``latest_due_slot``); ``kind``: the monitor's type, to count them by.
    """

    monitor_id: int
    scheduled_for: datetime
    skipped: int = 0
    kind: str = ""


def claim_due_monitors(
    *, now: datetime, limit: int, lease: timedelta, lookahead: timedelta = timedelta(0)
) -> tuple[uuid.UUID, list[Claim]]:
    """Claim up to ``limit`` due monitors, oldest slot first; return the batch token and claims.

    ``lookahead`` also claims monitors whose slot comes within that time, so the worker can
    start them on their slot (``run_checks(not_before=...)``) instead of up to one dispatcher
    tick late; each claimed monitor moves to the first slot after the one it was claimed for.
    A monitor one interval or more behind runs once, for its latest slot, and its claim
    counts the slots skipped (``latest_due_slot``): a late run never passes silently.
    """
    token = uuid.uuid4()
    with transaction.atomic():
        due = list(
            Monitor.objects.filter(enabled=True, next_run_at__lte=now + lookahead)
            .filter(Q(lease_until__isnull=True) | Q(lease_until__lte=now))
            .order_by("next_run_at")
            .select_for_update(skip_locked=True)
            .only("id", "kind", "next_run_at", "interval_duration")[:limit]
        )
        _load_passive_properties(due)
        claims = sorted(
            (
                Claim(
                    monitor.id,
                    *latest_due_slot(
                        monitor.next_run_at, monitor.interval_duration.total_seconds(), now
                    ),
                    kind=monitor.kind,
                )
                for monitor in due
            ),
            key=lambda claim: claim.scheduled_for,
        )
        slots = {claim.monitor_id: claim.scheduled_for for claim in claims}
        _advance(
            [
                (monitor.id, _following_slot(monitor, slots[monitor.id], now))
                for monitor in due
            ],
            lease_until=now + lookahead + lease,
            token=token,
        )  # fmt: skip
    return token, claims


def _load_passive_properties(due: list[Monitor]) -> None:
    """The properties of the passive (push) monitors among ``due``, in one query: their next
    deadline reads them; every other claimed monitor's properties (which may be large, and hold
    sealed secrets) stay unread."""
    passive = {monitor.id: monitor for monitor in due if is_passive(monitor.kind)}
    if not passive:
        return
    rows = Monitor.objects.filter(pk__in=list(passive)).values_list("pk", "properties")
    for monitor_id, properties in rows:
        passive[monitor_id].properties = properties


def _following_slot(monitor: Monitor, claimed: datetime, now: datetime) -> datetime:
    """Where a claimed monitor moves: the next slot of its grid; a passive (push) monitor's
    next deadline is the one after the deadline just claimed (each missed period once)."""
    interval = monitor.interval_duration.total_seconds()
    if is_passive(monitor.kind):
        try:
            return passive_following(monitor, claimed, now)
        except ValueError:  # properties no longer valid: its runs say so (Failed); keep a grid
            pass
    return next_slot(monitor.id, interval, max(now, monitor.next_run_at))


def schedules_set(moves: list[tuple[int, datetime | None]]) -> None:
    """Set each monitor's next slot (None: none) and drop its claim: a push monitor's next
    deadline after a ping (``loop.pings``). Lock the monitors first."""
    _advance(moves, lease_until=None, token=None)


def _advance(
    moves: list[tuple[int, datetime | None]],
    *,
    lease_until: datetime | None,
    token: uuid.UUID | None,
) -> None:
    """Move each claimed monitor to its next slot and stamp the batch's token and lease.

    On PostgreSQL one ``UPDATE … FROM (VALUES …)`` per thousand monitors: ``bulk_update``'s
    ``CASE WHEN`` per row cost the dispatcher about half a millisecond of CPU per claimed
    monitor (bench/README.md). Other databases take the portable path.
    """
    if not moves:
        return
    if connection.vendor != "postgresql":
        Monitor.objects.bulk_update(
            [
                Monitor(pk=monitor_id, next_run_at=slot, lease_until=lease_until, run_token=token)
                for monitor_id, slot in moves
            ],
            ["next_run_at", "lease_until", "run_token"],
            batch_size=1000,
        )
        return
    quote = connection.ops.quote_name
    table = quote(Monitor._meta.db_table)
    slot_column, lease_column, token_column = (
        quote(Monitor._meta.get_field(name).column)
        for name in ("next_run_at", "lease_until", "run_token")
    )
    with connection.cursor() as cursor:
        for start in range(0, len(moves), 1000):
            chunk = moves[start : start + 1000]
            values = ", ".join(["(%s, %s::timestamptz)"] * len(chunk))
            cursor.execute(
                f"UPDATE {table} AS m SET {slot_column} = v.slot, {lease_column} = %s, "  # noqa: S608
                f"{token_column} = %s FROM (VALUES {values}) AS v(id, slot) WHERE m.id = v.id",
                [lease_until, token, *(value for move in chunk for value in move)],
            )


def start_claimed_batch(
    *, token: uuid.UUID, monitor_ids: Iterable[int], now: datetime, grace: timedelta
) -> list[Monitor]:
    """Return the monitors still held by ``token``, with their lease extended over the run.

    Monitors updated, disabled or deleted since the claim no longer carry the token and are
    left out. The new lease is the batch's longest deadline plus ``grace``, so a re-claim
    can only happen after this run has certainly ended: runs never overlap.
    """
    with transaction.atomic():
        monitors = list(
            Monitor.objects.select_for_update()
            .filter(pk__in=list(monitor_ids), run_token=token, enabled=True)
            .order_by("pk")  # the order every writer locks monitors in (monitors.services)
        )
        if monitors:
            longest = max(deadline_for(monitor.check_request()) for monitor in monitors)
            Monitor.objects.filter(pk__in=[monitor.id for monitor in monitors]).update(
                lease_until=now + timedelta(seconds=longest) + grace
            )
    return monitors


def release_claims(token: uuid.UUID, monitor_ids: Sequence[int]) -> None:
    """Free monitors whose run ended (recorded or abandoned) so their next slot can be claimed."""
    Monitor.objects.filter(pk__in=monitor_ids, run_token=token).update(
        run_token=None, lease_until=None
    )
