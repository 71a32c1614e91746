"""The dispatcher's claims: immediate runs, drift-free slots, leases, and no double runs."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from monitors.models import Monitor
from monitors.scheduling import (
    claim_due_monitors,
    latest_due_slot,
    next_slot,
    phase_fraction,
    start_claimed_batch,
)

LEASE = timedelta(seconds=30)
pytestmark = pytest.mark.django_db


def claim(now, limit=1000):
    return claim_due_monitors(now=now, limit=limit, lease=LEASE)


def test_a_new_monitor_is_due_at_once(make_monitor, now):
    monitor = make_monitor()

    token, claims = claim(now)

    assert [(c.monitor_id, c.scheduled_for) for c in claims] == [(monitor.id, now)]
    monitor.refresh_from_db()
    assert now < monitor.next_run_at <= now + timedelta(seconds=30)
    assert monitor.run_token == token


def test_a_disabled_monitor_is_never_claimed(make_monitor, now):
    make_monitor(enabled=False)

    assert claim(now + timedelta(days=1))[1] == []


def test_next_slot_is_on_the_grid_whenever_the_run_happened():
    first = next_slot(7, 60.0, after=datetime(2026, 1, 1, tzinfo=UTC))
    late = next_slot(7, 60.0, after=first + timedelta(seconds=0.9))

    assert late - first == timedelta(seconds=60)
    assert next_slot(7, 60.0, after=first) == first + timedelta(seconds=60)


def test_a_late_claim_does_not_shift_the_following_slots(make_monitor, now):
    monitor = make_monitor()
    claim(now)
    monitor.refresh_from_db()
    slot = monitor.next_run_at
    Monitor.objects.filter(pk=monitor.pk).update(run_token=None, lease_until=None)

    _, claims = claim(slot + timedelta(seconds=0.7))

    monitor.refresh_from_db()
    assert claims[0].scheduled_for == slot
    assert monitor.next_run_at == slot + timedelta(seconds=30)


def test_the_latest_due_slot_and_the_slots_skipped_before_it(now):
    assert latest_due_slot(now, 10.0, now) == (now, 0)
    assert latest_due_slot(now, 10.0, now - timedelta(seconds=1)) == (now, 0)  # ahead
    assert latest_due_slot(now, 10.0, now + timedelta(seconds=9.9)) == (now, 0)
    assert latest_due_slot(now, 10.0, now + timedelta(seconds=10)) == (
        now + timedelta(seconds=10),
        1,
    )
    assert latest_due_slot(now, 10.0, now + timedelta(seconds=35)) == (
        now + timedelta(seconds=30),
        3,
    )


def test_a_monitor_behind_by_intervals_runs_once_for_its_latest_slot(make_monitor, now):
    monitor = make_monitor()
    claim(now)
    monitor.refresh_from_db()
    slot = monitor.next_run_at
    # Its previous run held it past three more slots (a timeout above the interval).
    Monitor.objects.filter(pk=monitor.pk).update(run_token=None, lease_until=None)

    _, [late] = claim(slot + timedelta(seconds=3 * 30 + 4))

    assert (late.scheduled_for, late.skipped, late.kind) == (
        slot + timedelta(seconds=90),
        3,
        "http",
    )
    monitor.refresh_from_db()
    assert monitor.next_run_at == slot + timedelta(seconds=120)


def test_monitors_with_one_interval_are_spread_over_it():
    fractions = sorted(phase_fraction(monitor_id) for monitor_id in range(1, 101))

    # 100 ids cover every tenth of the interval.
    assert {int(fraction * 10) for fraction in fractions} == set(range(10))


def test_a_claimed_monitor_waits_for_its_lease_before_it_is_claimed_again(make_monitor, now):
    monitor = make_monitor(interval="1s")
    first_token, _ = claim(now)

    assert claim(now + timedelta(seconds=5))[1] == []
    second_token, claims = claim(now + LEASE + timedelta(seconds=1))

    assert [c.monitor_id for c in claims] == [monitor.id]
    assert second_token != first_token
    # The lost task, if it ever arrives, finds its claim gone and runs nothing.
    assert (
        start_claimed_batch(token=first_token, monitor_ids=[monitor.id], now=now, grace=LEASE) == []
    )


def test_starting_a_batch_extends_the_lease_over_the_probe_deadline(make_monitor, now):
    monitor = make_monitor(properties={"timeout": "20s"})
    token, _ = claim(now)

    started = start_claimed_batch(token=token, monitor_ids=[monitor.id], now=now, grace=LEASE)

    assert [m.id for m in started] == [monitor.id]
    monitor.refresh_from_db()
    assert monitor.lease_until >= now + timedelta(seconds=20) + LEASE


@pytest.mark.django_db(transaction=True)
def test_concurrent_dispatchers_never_claim_a_monitor_twice(make_monitor, now):
    for number in range(120):
        make_monitor(name=f"m{number}")
    claimed: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def dispatcher() -> None:
        try:
            barrier.wait()
            while True:
                _, claims = claim(now, limit=7)
                if not claims:
                    return
                claimed.extend(c.monitor_id for c in claims)
        except BaseException as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=dispatcher) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(claimed) == 120
    assert len(set(claimed)) == 120


def test_a_claim_reads_properties_only_of_passive_monitors(make_monitor, now):
    from django.test.utils import CaptureQueriesContext

    make_monitor(name="web", properties={"timeout": "2s"})
    job = make_monitor(name="job", kind="push", target="job", interval="1m",
                       properties={"grace": "30s"})  # fmt: skip
    later = now + timedelta(minutes=2)
    with CaptureQueriesContext(connection) as queries:
        _, claims = claim_due_monitors(now=later, limit=10, lease=timedelta(seconds=30))
    assert {claim.monitor_id for claim in claims} >= {job.id}
    reads = [q["sql"] for q in queries.captured_queries if '"properties"' in q["sql"]]
    # Not in the claim's SELECT … FOR UPDATE over every due monitor; one query, for the push
    # monitor only.
    assert [sql for sql in reads if "FOR UPDATE" in sql] == []
    assert len(reads) == 1
    assert f"IN ({job.id})" in reads[0]
    job.refresh_from_db()
    assert job.next_run_at == now + timedelta(minutes=1, seconds=30) + timedelta(minutes=1)
