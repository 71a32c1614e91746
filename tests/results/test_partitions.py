"""Results retention on the real PostgreSQL, where the migrated test database holds
results_result partitioned by day (results 0002): partitions created ahead, expired days
dropped whole while newer days stay, the DEFAULT partition's rows moved or deleted in batches,
inserts and cascades still working, a transition whose result is gone still harmless."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, connections, transaction
from django.urls import reverse

from alerts.models import Transition
from alerts.selectors import transition_result
from monitors.services import monitor_delete
from results.models import Result
from results.partitions import (
    DEFAULT_PARTITION,
    TABLE,
    day_partitions,
    is_partitioned,
    partition_create,
    partition_drop,
    results_retention,
)

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="partitions are PostgreSQL's"),
]

DAY = timedelta(days=1)
RETENTION = 31 * 86400


@pytest.fixture(autouse=True)
def constraints_immediate():
    """A test runs in one transaction: its inserts' deferred foreign key checks would still be
    pending when retention drops a partition (PostgreSQL refuses). In production retention
    runs in transactions of its own."""
    if connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def at(day: datetime, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def store(monitor, when: datetime) -> Result:
    return Result.objects.create(
        monitor=monitor,
        monitor_name=monitor.name,
        monitor_target=monitor.target,
        date=when,
        scheduled_for=when,
        status=0,
        value=1.0,
    )


def partition_of(result: Result) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT tableoid::regclass::text FROM {TABLE} WHERE id = %s",  # noqa: S608
            [result.pk],
        )
        return cursor.fetchone()[0]


def names() -> set[str]:
    return {p.name for p in day_partitions()}


def test_the_migrated_table_is_partitioned_by_day_with_a_default_partition():
    today = datetime.now(UTC).date()
    assert is_partitioned()
    assert {f"{TABLE}_p{today + n * DAY:%Y%m%d}" for n in range(3)} <= names()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [TABLE])
        assert cursor.fetchone()[0] == f"public.{TABLE}_id_seq"  # the id sequence kept
        cursor.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'p'",
            [TABLE],
        )
        assert cursor.fetchone()[0] == "PRIMARY KEY (id, date)"


def test_retention_creates_the_days_ahead_that_are_missing(make_monitor):
    later = datetime(2031, 3, 10, 9, tzinfo=UTC)

    report = results_retention(now=later, retention_seconds=0, days_ahead=2)

    expected = [f"{TABLE}_p{later.date() + n * DAY:%Y%m%d}" for n in range(3)]
    assert report.created == expected
    assert set(expected) <= names()
    assert results_retention(now=later, retention_seconds=0, days_ahead=2).created == []
    # A run for that day lands in its partition; one far later in the DEFAULT partition.
    monitor = make_monitor()
    assert partition_of(store(monitor, later + DAY)) == expected[1]
    assert partition_of(store(monitor, later + 30 * DAY)) == DEFAULT_PARTITION


def test_a_day_older_than_the_retention_is_dropped_whole_and_newer_days_stay(make_monitor, now):
    monitor = make_monitor()
    old_days = [now - 40 * DAY, now - 35 * DAY]
    for day in [*old_days, now - 20 * DAY, now]:
        partition_create(day.date())
    kept = [store(monitor, at(now - 20 * DAY)), store(monitor, at(now)), store(monitor, now)]
    dropped = [store(monitor, at(day, hour)) for day in old_days for hour in (0, 12, 23)]

    dry = results_retention(now=now, retention_seconds=RETENTION, dry_run=True)
    assert [p.name for p in dry.dropped] == [f"{TABLE}_p{d:%Y%m%d}" for d in old_days]
    assert Result.objects.count() == 9  # a dry run changes nothing

    report = results_retention(now=now, retention_seconds=RETENTION)

    assert [p.name for p in report.dropped] == [p.name for p in dry.dropped]
    assert not {p.name for p in report.dropped} & names()
    assert set(Result.objects.values_list("pk", flat=True)) == {r.pk for r in kept}
    assert not Result.objects.filter(pk__in=[r.pk for r in dropped]).exists()
    # The day holding the cutoff stays whole (kept at least the retention, at most a day more).
    cutoff_day = (now - RETENTION * timedelta(seconds=1)).date()
    partition_create(cutoff_day)
    straddling = store(monitor, at(cutoff_day, 0))
    results_retention(now=now, retention_seconds=RETENTION)
    assert Result.objects.filter(pk=straddling.pk).exists()


def test_expired_rows_of_the_default_partition_are_deleted_in_batches(make_monitor, now):
    monitor = make_monitor()
    expired = [store(monitor, now - 50 * DAY + n * timedelta(minutes=1)) for n in range(5)]
    recent = store(monitor, now - DAY)
    assert {partition_of(r) for r in [*expired, recent]} == {DEFAULT_PARTITION}

    assert results_retention(now=now, retention_seconds=RETENTION, dry_run=True).deleted == 5
    report = results_retention(now=now, retention_seconds=RETENTION, batch_size=2)

    assert (report.deleted, report.batches) == (5, 3)
    assert list(Result.objects.values_list("pk", flat=True)) == [recent.pk]


def test_a_new_day_takes_its_rows_out_of_the_default_partition(make_monitor, now):
    monitor = make_monitor()
    day = (now + 400 * DAY).date()
    early, late = store(monitor, at(day, 0)), store(monitor, at(day, 23))
    other = store(monitor, at(day + DAY))

    partition_create(day)

    name = f"{TABLE}_p{day:%Y%m%d}"
    assert partition_of(early) == partition_of(late) == name
    assert partition_of(other) == DEFAULT_PARTITION
    assert Result.objects.count() == 3


def test_inserts_go_on_into_a_dropped_day_and_the_orm_returns_ids(make_monitor, now):
    monitor = make_monitor()
    day = (now - 60 * DAY).date()
    partition_create(day)
    assert partition_drop(f"{TABLE}_p{day:%Y%m%d}")

    made = Result.objects.bulk_create(
        [
            Result(
                monitor=monitor,
                monitor_name="m",
                monitor_target="t",
                date=when,
                scheduled_for=when,
                status=0,
            )
            for when in (at(day), now)
        ]
    )

    assert all(r.pk for r in made)
    assert made[0].pk < made[1].pk
    assert partition_of(made[0]) == DEFAULT_PARTITION
    assert Result.objects.get(pk=made[1].pk).date == now


def test_deleting_a_monitor_deletes_its_results_in_every_partition(make_monitor, now):
    monitor, other = make_monitor(name="gone"), make_monitor(name="stays")
    partition_create(now.date())
    for when in (at(now), now - 300 * DAY, now + 300 * DAY):
        store(monitor, when)
    survivor = store(other, at(now))

    assert monitor_delete(monitor)

    assert list(Result.objects.values_list("pk", flat=True)) == [survivor.pk]


def test_a_transition_whose_result_was_dropped_is_harmless(make_monitor, now, admin_user, client):
    monitor = make_monitor()
    day = (now - 45 * DAY).date()
    partition_create(day)
    result = store(monitor, at(day))
    transition = Transition.objects.create(
        monitor=monitor,
        from_state="up",
        to_state="down",
        reason="connection refused",
        result=result,
        monitor_name=monitor.name,
        monitor_target=monitor.target,
        happened_at=at(day),
        created_at=at(day),
        state_version=1,
    )
    assert transition_result(transition) == result

    results_retention(now=now, retention_seconds=RETENTION)

    transition = Transition.objects.get(pk=transition.pk)
    assert transition.result_id == result.pk
    assert transition_result(transition) is None
    assert Transition.objects.select_related("result").get(pk=transition.pk).result is None
    client.force_login(admin_user)
    for url in (
        reverse("admin:alerts_transition_changelist"),
        reverse("admin:alerts_transition_change", args=[transition.pk]),
        reverse("admin:alerts_transition_delete", args=[transition.pk]),
    ):
        assert client.get(url).status_code == 200, url


@pytest.mark.django_db(transaction=True)
def test_a_drop_waits_for_no_long_transaction_and_the_next_run_retries(make_monitor, now):
    """An open transaction that wrote to the parent holds a lock the drop needs: the drop gives
    up after LOCK_TIMEOUT (so inserts never queue behind it) and the next run drops the day."""
    monitor = make_monitor()
    day = (now - 90 * DAY).date()
    name = partition_create(day)
    results_retention(now=now, retention_seconds=0)  # the days from `now` on exist
    writing, release = threading.Event(), threading.Event()

    def long_writer():
        try:
            with transaction.atomic():
                store(monitor, now)
                writing.set()
                release.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=long_writer)
    thread.start()
    try:
        assert writing.wait(10)
        report = results_retention(now=now, retention_seconds=RETENTION)
        assert report.skipped == [name]
        assert name in names()
    finally:
        release.set()
        thread.join(10)
    report = results_retention(now=now, retention_seconds=RETENTION)
    assert [p.name for p in report.dropped] == [name]
    assert Result.objects.filter(date=now).count() == 1
