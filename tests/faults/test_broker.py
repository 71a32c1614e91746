"""A Redis restart or outage never kills a worker or beat, and the loop resumes by itself.

The crash this guards against (issue 19): ``Unrecoverable error: AttributeError("'NoneType'
object has no attribute 'hostname'")``, then the worker exited (nanomon/celery.py says how).
"""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime

import pytest
import redis
from django.conf import settings
from django.db.models import Count
from kombu import Connection, Consumer, Exchange, Producer, Queue
from kombu.common import ignore_errors
from kombu.transport import redis as redis_transport

import nanomon.celery  # noqa: F401  (the guard is installed when the app is imported)
from bench.db import process_environment
from bench.faults import analyse, http_monitors
from monitors.services import monitor_create
from results.models import Result
from tests.test_end_to_end import wait_for

pytestmark = pytest.mark.e2e


def deaths(fleet) -> list[tuple]:
    return [(d["process"], d["exit_code"], d["unrecoverable"]) for d in fleet.deaths]


def url_of_the_test_database() -> str:
    database = settings.DATABASES["default"]
    return f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"


def test_a_channel_left_open_by_a_lost_connection_closes_with_a_connection_error(private_redis):
    """The exact sequence of Celery's consumer on a lost connection, against a real Redis."""
    connection = Connection(private_redis.url)
    connection.ensure_connection(max_retries=3)
    tasks = connection.default_channel
    queue = Queue("faults", Exchange("faults"), "faults")
    Producer(tasks).publish({"eta": "later"}, exchange=queue.exchange, routing_key="faults",
                            declare=[queue])  # fmt: skip
    delivered = []
    Consumer(tasks, [queue], callbacks=[lambda body, message: delivered.append(message)]).consume()
    # The remote-control channel: a fan-out queue deleted when its channel closes.
    control = connection.channel()
    fanout = Queue("faults.control", Exchange("faults.control", type="fanout"), auto_delete=True)
    Consumer(control, [fanout], callbacks=[lambda body, message: None]).consume()
    deadline = time.monotonic() + 10
    while not delivered and time.monotonic() < deadline:
        with contextlib.suppress(TimeoutError):  # the subscription's reply may come first
            connection.drain_events(timeout=1)
    assert len(delivered) == 1  # delivered, not acknowledged: a batch waiting for its ETA
    tasks._brpop_start()  # the worker's event loop always has a BRPOP in flight

    private_redis.stop()
    connection.collect(socket_timeout=1)  # Celery: on_connection_error_after_connected

    # The state that killed workers: the task channel still open, its transport's client gone.
    assert not tasks.closed
    assert tasks.connection.client is None
    with pytest.raises(AttributeError, match="hostname"):
        # kombu's own method still fails so; when this stops raising, the guard can go.
        redis_transport.Channel._connparams.__wrapped__(tasks)
    with pytest.raises(redis.exceptions.ConnectionError):
        tasks._connparams()
    ignore_errors(connection, connection.close)  # what Celery does next: no longer raises


def test_worker_and_beat_survive_redis_restarts_and_an_outage(
    transactional_db, private_redis, ok_url, start_fleet, tmp_path
):
    database_url = url_of_the_test_database()
    # A hundred monitors every 3 s: enough batches in flight that, before the fix, a restart
    # found a worker holding one for its ETA (both workers died within 45 s).
    fields = http_monitors(100, "3s", [ok_url], name="broker fault")
    ids = [monitor_create(**monitor).id for monitor in fields]
    fleet = start_fleet(
        process_environment(
            database_url=database_url, broker_url=private_redis.url, data_dir=tmp_path / "data"
        )
    )
    start = datetime.now(UTC)

    def every_monitor_ran(since: datetime, times: int = 1) -> bool:
        counts = dict(
            Result.objects.filter(date__gte=since)
            .values_list("monitor_id")
            .annotate(runs=Count("id"))
            .values_list("monitor_id", "runs")
        )
        return all(counts.get(monitor_id, 0) >= times for monitor_id in ids)

    wait_for(lambda: every_monitor_ran(start, 2), timeout=60, what="2 results of every monitor")

    fault_start = datetime.now(UTC)
    for down_seconds in (0, 1, 0, 8):  # three restarts, then an outage
        private_redis.restart(down_seconds)
        fault_end = datetime.now(UTC)
        fleet.sleep(4)
    wait_for(
        lambda: fleet.check() or fleet.deaths or every_monitor_ran(fault_end),
        timeout=45,
        what="every monitor to run again",
    )
    assert fleet.deaths == [], deaths(fleet)
    fleet.sleep(2)
    figures = analyse(
        database_url, healthy=ids, interval=3.0, start=start, end=datetime.now(UTC),
        fault_start=fault_start, fault_end=fault_end,
    )  # fmt: skip
    print(f"redis restarted {private_redis.restarts} times: {figures}")

    assert fleet.deaths == [], deaths(fleet)
    assert all(fleet.alive().values()), fleet.alive()
    assert figures["not_resumed"] == []
    assert figures["duplicate_results"] == 0, figures["duplicates_sample"]
    assert (figures["false_alerts"], figures["healthy_non_ok_results"]) == (0, 0), figures
