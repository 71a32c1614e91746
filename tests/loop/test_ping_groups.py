"""The group-commit recorder of pings (``loop.ping_groups``): concurrent pings recorded in
shared transactions, each answered only once committed; a token's pings in order; a failed
group answers each of its pings 503 and the next group works again."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from loop import ping_groups
from loop.ping_groups import RECORDER, PingNotRecorded, PingRecorder
from loop.pings import Ping, PingKind
from monitors.services import monitor_create
from results.models import Result

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def recorder():
    made = PingRecorder()
    yield made
    made.release_connection()


@pytest.fixture
def push_monitors():
    return [
        monitor_create(name=f"job {i}", kind="push", target="job", interval="1h", enabled=True)
        for i in range(20)
    ]


def ping_all(recorder, pings, threads=20):
    answers: list = [None] * len(pings)

    def send(index):
        try:
            answers[index] = recorder.record(pings[index])
        except PingNotRecorded as error:
            answers[index] = error

    workers = [threading.Thread(target=send, args=(i,)) for i in range(len(pings))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    return answers


def test_concurrent_pings_are_each_recorded_once_answered(recorder, push_monitors):
    pings = [Ping(m.push_token, PingKind.SUCCESS) for m in push_monitors for _ in range(3)]
    pings.append(Ping("no-such-token", PingKind.SUCCESS))
    answers = ping_all(recorder, pings)
    assert answers == [True] * 60 + [False]
    assert Result.objects.count() == 60
    for monitor in push_monitors:
        assert Result.objects.filter(monitor=monitor).count() == 3


def test_a_tokens_pings_keep_their_order(recorder, push_monitors):
    token = push_monitors[0].push_token
    for kind, code in [(PingKind.START, 0), (PingKind.EXIT, 4), (PingKind.SUCCESS, 0)]:
        assert recorder.record(Ping(token, kind, exit_code=code))
    codes = list(
        Result.objects.filter(monitor=push_monitors[0])
        .order_by("id")
        .values_list("outputs", flat=True)
    )
    assert [outputs["exitCode"] for outputs in codes] == [4, 0]
    assert "duration" in codes[0]
    assert "duration" not in codes[1]


def test_a_failed_group_fails_its_pings_and_the_next_group_records(
    recorder, push_monitors, monkeypatch
):
    real = ping_groups.pings_record
    calls = []

    def broken_once(pings):
        calls.append(len(pings))
        if len(calls) == 1:
            raise RuntimeError("database went away")
        return real(pings)

    monkeypatch.setattr(ping_groups, "pings_record", broken_once)
    token = push_monitors[0].push_token
    with pytest.raises(PingNotRecorded, match="database went away"):
        recorder.record(Ping(token, PingKind.SUCCESS))
    assert recorder.record(Ping(token, PingKind.SUCCESS))
    assert Result.objects.filter(monitor=push_monitors[0]).count() == 1


def test_the_view_answers_503_when_the_ping_is_not_recorded(client, push_monitors, monkeypatch):
    def refuse(ping):
        raise PingNotRecorded("database went away")

    monkeypatch.setattr(RECORDER, "record", refuse)
    response = client.get(f"/ping/{push_monitors[0].push_token}")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    kuma = client.get(f"/api/push/{push_monitors[0].push_token}?status=up")
    assert kuma.status_code == 503


def test_inside_a_transaction_pings_are_recorded_directly(recorder, push_monitors):
    from django.db import transaction

    with transaction.atomic():
        assert recorder.record(Ping(push_monitors[0].push_token, PingKind.SUCCESS))
        assert connection.in_atomic_block
    assert recorder._thread is None  # no recorder thread was needed
