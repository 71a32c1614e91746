"""The embedded broker (nanomon/broker.py): exactly once across processes, shared bindings,
and kombu's file-system transport, which it replaced, losing the race it wins."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest
from kombu import Connection, Exchange, Queue

from tests.support.broker_stress import run_stress

pytestmark = pytest.mark.e2e


def test_every_message_is_delivered_exactly_once_across_processes(tmp_path):
    report = run_stress("sqlite://", tmp_path, producers=4, consumers=3, messages=20_000)
    print(f"sqlite:// {report}")

    assert report.crashes == []
    assert report.sent == 20_000
    assert (report.received, report.duplicates, report.missing) == (20_000, 0, 0)


@pytest.mark.xfail(
    strict=True,
    reason="kombu's file-system transport hands consumers empty files (celery/kombu#1551)",
)
def test_the_file_system_transport_fails_the_same_stress(tmp_path):
    report = run_stress(
        "filesystem://",
        tmp_path,
        producers=4,
        consumers=3,
        messages=20_000,
        stop_on_crash=True,
        deadline_seconds=120,
    )
    print(f"filesystem:// {report}")

    assert report.crashes == []
    assert report.exactly_once


def _options(tmp_path):
    return {"path": str(tmp_path / "broker.sqlite3"), "polling_interval": 0.01}


def test_a_fanout_reaches_queues_bound_by_other_connections(tmp_path):
    exchange = Exchange("broadcast", type="fanout")
    with Connection("sqlite://", transport_options=_options(tmp_path)) as first:
        Queue("one", exchange)(first.default_channel).declare()
    with Connection("sqlite://", transport_options=_options(tmp_path)) as second:
        Queue("two", exchange)(second.default_channel).declare()
    with Connection("sqlite://", transport_options=_options(tmp_path)) as sender:
        sender.Producer().publish({"hello": 1}, exchange=exchange, declare=[exchange])
    with Connection("sqlite://", transport_options=_options(tmp_path)) as reader:
        for name in ("one", "two"):
            message = reader.SimpleQueue(Queue(name, exchange)).get(timeout=2)
            assert message.payload == {"hello": 1}
            message.ack()


def test_a_queued_message_outlives_the_process_that_sent_it(tmp_path):
    sender = (
        "import sys, os, nanomon.broker; from kombu import Connection\n"
        f"c = Connection('sqlite://', transport_options={_options(tmp_path)!r})\n"
        "c.SimpleQueue('jobs').put({'n': 7})\n"
        "os.kill(os.getpid(), 9)\n"
    )
    subprocess.run([sys.executable, "-c", sender], check=False)
    with Connection("sqlite://", transport_options=_options(tmp_path)) as connection:
        queue = connection.SimpleQueue("jobs")
        assert queue.qsize() == 1
        message = queue.get(timeout=2)
        assert message.payload == {"n": 7}
        message.ack()
        assert queue.qsize() == 0


def test_size_and_purge(tmp_path):
    with Connection("sqlite://", transport_options=_options(tmp_path)) as connection:
        queue = connection.SimpleQueue("jobs")
        for number in range(5):
            queue.put({"n": number})
        assert queue.qsize() == 5
        assert queue.clear() == 5
        assert queue.qsize() == 0


def test_a_broker_file_that_cannot_be_opened_fails_the_connection(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    options = {"path": str(tmp_path / "file" / "broker.sqlite3")}
    with (
        Connection("sqlite://", transport_options=options) as connection,
        pytest.raises((OSError, sqlite3.Error)),
    ):
        connection.ensure_connection(max_retries=0)


def test_the_file_system_broker_url_is_refused_with_the_reason(tmp_path):
    env = {"CELERY_BROKER_URL": "filesystem://", "NANOMON_DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", "import nanomon.settings"],
        env={**_base_env(), **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "celery/kombu#1551" in result.stderr


def _base_env() -> dict[str, str]:
    import os

    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CELERY_", "DATABASE_", "NANOMON_", "DJANGO_SETTINGS"))
    }
