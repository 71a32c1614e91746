"""A channel's tags in backups: written, restored (and routing again), files written before
channel tags restore channels without any, and a bad tag in a file is refused by line."""

from __future__ import annotations

import json

import pytest

from alerts.configuration import channel_create
from alerts.models import Channel
from alerts.outbox import channel_ids_by_monitor
from backups.dump import backup_chunks
from backups.records import CONFIG
from tests.backups.conftest import records

pytestmark = pytest.mark.django_db


def post(client, body: bytes):
    return client.generic("POST", "/api/backup", body, content_type="application/x-ndjson")


def backup() -> bytes:
    return b"".join(backup_chunks(CONFIG, monitor_secrets=True, channel_secrets=True))


def rewritten(body: bytes, change) -> bytes:
    lines = []
    for line in body.splitlines():
        record = json.loads(line)
        if record["record"] == "channel" and record["name"] == "pager":
            change(record)
        lines.append(json.dumps(record).encode())
    return b"\n".join(lines) + b"\n"


@pytest.fixture
def pager(make_monitor):
    make_monitor(name="db", kind="tcp", target="127.0.0.1:5432", tags=["db"])
    return channel_create(
        name="pager",
        kind="webhook",
        config={"url": "https://pager.example/p"},
        is_default=False,
        tags=["db", "prod"],
    )


def test_channel_tags_round_trip_and_route_again(pager, admin):
    body = backup()
    (record,) = [r for r in records(body) if r["record"] == "channel" and r["name"] == "pager"]
    assert record["tags"] == ["db", "prod"]
    Channel.objects.filter(pk=pager.pk).update(tags=[])

    answer = post(admin, body)

    assert answer.status_code == 200, answer.content
    assert Channel.objects.get(pk=pager.pk).tags == ["db", "prod"]
    (monitor,) = [r["id"] for r in records(body) if r["record"] == "monitor"]
    assert pager.pk in channel_ids_by_monitor({monitor}, custom=set())[monitor]
    again = [(r["name"], r["tags"]) for r in records(backup()) if r["record"] == "channel"]
    assert ("pager", ["db", "prod"]) in again


def test_a_file_from_before_channel_tags_restores_channels_without_any(pager, admin):
    body = rewritten(backup(), lambda record: record.pop("tags"))

    assert post(admin, body).status_code == 200

    assert Channel.objects.get(pk=pager.pk).tags == []


@pytest.mark.parametrize(
    ("tags", "why"),
    [
        (["-x"], "tag '-x' is not valid"),
        ("prod", "tags must be a list of strings"),
        ([f"t{index}" for index in range(21)], "at most 20 tags"),
    ],
)
def test_a_bad_tag_in_a_file_is_refused_naming_its_line_and_field(pager, admin, tags, why):
    def spoil(record):
        record["tags"] = tags

    answer = post(admin, rewritten(backup(), spoil))

    assert answer.status_code == 400
    detail = answer.json()["detail"]
    assert detail.startswith("line "), detail
    assert "channel record: field 'tags': " in detail, detail
    assert why in detail
    assert Channel.objects.get(pk=pager.pk).tags == ["db", "prod"]
