"""Rollups written with the results (``batch_record``), rebuilt from them, and expired."""

from __future__ import annotations

import io
import math
import random
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import transaction

from lib.status import Status
from loop.batches import batch_record
from monitors.engine import CheckResult, CheckStatus
from monitors.scheduling import claim_due_monitors, start_claimed_batch
from results.models import Result, Rollup
from results.rollups import rollups_delete_old, rollups_rebuild_monitor
from results.services import RunRecord, results_delete_all
from results.sketch import RELATIVE_ERROR, sketch_merge, sketch_of, sketch_quantile

LEASE = timedelta(seconds=30)
pytestmark = pytest.mark.django_db


def record(monitors, at, runs):
    """Claim the monitors at ``at`` and record one run each: ``runs[i]`` = (status, value,
    started_at) of ``monitors[i]``."""
    token, claims = claim_due_monitors(now=at, limit=1000, lease=LEASE)
    assert {c.monitor_id for c in claims} == {m.id for m in monitors}
    start_claimed_batch(token=token, monitor_ids=[m.id for m in monitors], now=at, grace=LEASE)
    return batch_record(
        token=token,
        runs=[
            RunRecord(
                m.id,
                m.name,
                m.target,
                at,
                CheckResult(
                    status=status,
                    value=value,
                    message="",
                    outputs=None,
                    started_at=started,
                    duration_seconds=0.01,
                ),
            )
            for m, (status, value, started) in zip(monitors, runs, strict=True)
        ],
    )


def snapshot() -> dict[tuple, tuple]:
    return {
        (r.monitor_id, r.resolution, r.start): (
            r.runs_ok,
            r.runs_error,
            r.runs_failed,
            r.value_count,
            round(r.value_sum, 6),
            r.value_min,
            r.value_max,
            r.sketch,
        )
        for r in Rollup.objects.all()
    }


def mixed_run(make_monitor, now, *, batches=60, seed=7):
    """``batches`` batches of three monitors, runs spread over three UTC days."""
    monitors = [make_monitor(name=f"m{i}", interval="1s") for i in range(3)]
    rng = random.Random(seed)
    for step in range(batches):
        at = now + timedelta(seconds=2 * step)
        runs = []
        for _ in monitors:
            status = rng.choice([CheckStatus.OK] * 6 + [CheckStatus.ERROR, CheckStatus.FAILED])
            value = 0.0 if status == CheckStatus.FAILED else rng.lognormvariate(3, 1)
            started = now - timedelta(days=1) + timedelta(minutes=rng.randrange(3 * 24 * 60))
            runs.append((status, value, started))
        record(monitors, at, runs)
    return monitors


def test_rollups_count_each_result_once_and_equal_a_rebuild_from_raw_results(make_monitor, now):
    monitors = mixed_run(make_monitor, now)
    written = snapshot()
    results = list(Result.objects.all())
    assert len(results) == 180
    # Exact counts: every result in its hour and its day, by status.
    for resolution in ("hour", "day"):
        rows = Rollup.objects.filter(resolution=resolution)
        assert sum(r.runs_ok for r in rows) == sum(r.status == Status.OK for r in results)
        assert sum(r.runs_error for r in rows) == sum(r.status == Status.ERROR for r in results)
        assert sum(r.runs_failed for r in rows) == sum(r.status == Status.FAILED for r in results)
    some = results[0]
    hour = some.date.replace(minute=0, second=0, microsecond=0)
    same_hour = [
        r
        for r in results
        if r.monitor_id == some.monitor_id and hour <= r.date < hour + timedelta(hours=1)
    ]
    row = Rollup.objects.get(monitor_id=some.monitor_id, resolution="hour", start=hour)
    assert row.runs == len(same_hour)
    measured = [r.value for r in same_hour if r.status != Status.FAILED]
    assert row.value_count == len(measured)
    if measured:
        assert (row.value_min, row.value_max) == (min(measured), max(measured))
        assert row.value_sum == pytest.approx(sum(measured))
    # Day rows are the sum of their hours.
    for day in Rollup.objects.filter(resolution="day"):
        hours = Rollup.objects.filter(
            monitor_id=day.monitor_id,
            resolution="hour",
            start__gte=day.start,
            start__lt=day.start + timedelta(days=1),
        )
        assert day.runs == sum(h.runs for h in hours)
    for monitor in monitors:
        rollups_rebuild_monitor(monitor.id, now - timedelta(days=2))
    assert snapshot() == written


def test_a_rolled_back_batch_leaves_the_rollups_unchanged(make_monitor, now):
    monitor = make_monitor(interval="1s")
    record([monitor], now, [(CheckStatus.OK, 20.0, now)])
    before = snapshot()
    assert len(before) == 2  # its hour and its day

    def record_then_fail() -> None:
        with transaction.atomic():
            at = now + timedelta(seconds=2)
            record([monitor], at, [(CheckStatus.ERROR, 30.0, at)])
            assert snapshot() != before
            raise RuntimeError("the batch's transaction fails after it was recorded")

    with pytest.raises(RuntimeError):
        record_then_fail()
    assert snapshot() == before


def test_the_sketch_p95_is_within_its_relative_error_and_merges(make_monitor):
    rng = random.Random(3)
    values = [rng.lognormvariate(4, 1.5) for _ in range(5000)]
    exact = sorted(values)[math.ceil(0.95 * len(values)) - 1]
    estimate = sketch_quantile(sketch_of(values), 0.95)
    assert abs(estimate - exact) <= RELATIVE_ERROR * exact
    merged = sketch_merge(sketch_of(values[:1234]), sketch_of(values[1234:]))
    assert merged == sketch_of(values)
    assert sketch_quantile({}, 0.95) is None
    assert sketch_quantile(sketch_of([-5.0, 0.0, 7.0]), 0.0) == pytest.approx(-5, rel=0.05)


def test_rebuild_command_is_idempotent_and_says_what_it_did(make_monitor, now):
    monitors = mixed_run(make_monitor, now, batches=20)
    written = snapshot()
    Rollup.objects.filter(monitor=monitors[0]).update(runs_ok=999)  # damaged
    for _ in range(2):
        out = io.StringIO()
        call_command("rollups_rebuild", stdout=out)
        assert snapshot() == written
    assert "3 monitors" in out.getvalue()
    assert "60 results" in out.getvalue()
    out = io.StringIO()
    call_command(
        "rollups_rebuild", "--monitor", str(monitors[1].id), "--since", "2026-11-21", stdout=out
    )
    assert snapshot() == written
    assert "1 monitor" in out.getvalue()


def test_retention_deletes_old_hour_and_day_rows_in_batches(make_monitor, settings):
    settings.ROLLUP_RETENTION_SECONDS = 400 * 86400
    settings.ROLLUP_HOURLY_RETENTION_SECONDS = 31 * 86400
    monitor = make_monitor()
    now = datetime(2026, 12, 1, tzinfo=UTC)
    for days in (1, 30, 32, 399, 401, 500):
        start = now - timedelta(days=days)
        Rollup.objects.create(monitor=monitor, resolution="hour", start=start, runs_ok=1)
        Rollup.objects.create(monitor=monitor, resolution="day", start=start, runs_ok=1)
    assert rollups_delete_old(now, batch=2) == 4 + 2
    kept = sorted(
        (r.resolution, (now - r.start).days) for r in Rollup.objects.filter(monitor=monitor)
    )
    assert kept == [("day", 1), ("day", 30), ("day", 32), ("day", 399), ("hour", 1), ("hour", 30)]
    settings.ROLLUP_RETENTION_SECONDS = 0  # for ever
    assert rollups_delete_old(now + timedelta(days=1000)) == 2
    assert Rollup.objects.filter(resolution="day").count() == 4


def test_deleting_every_result_deletes_the_rollups_too(make_monitor, now):
    mixed_run(make_monitor, now, batches=3)
    assert Rollup.objects.exists()
    assert results_delete_all() == 9
    assert not Rollup.objects.exists()
