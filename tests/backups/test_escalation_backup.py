"""An alert policy's escalation (delay and channels) in backups: written, restored, and files
written before it existed still restore (no escalation)."""

from __future__ import annotations

import json

import pytest

from alerts.configuration import alert_policy_set, channel_create
from alerts.models import MonitorAlertPolicy
from backups.dump import backup_chunks
from backups.records import CONFIG
from tests.backups.conftest import records

pytestmark = pytest.mark.django_db


def post(client, body: bytes):
    return client.generic("POST", "/api/backup", body, content_type="application/x-ndjson")


def policy_record(body: bytes) -> dict:
    (record,) = [record for record in records(body) if record["record"] == "policy"]
    return record


@pytest.fixture
def escalating(make_monitor):
    monitor = make_monitor(name="db", kind="tcp", target="127.0.0.1:5432")
    pager = channel_create(
        name="pager", kind="webhook", config={"url": "https://pager.example/p"}, is_default=False
    )
    alert_policy_set(monitor, escalate_after_minutes=20, escalation_channels=[pager])
    return monitor, pager


def test_the_escalation_round_trips(escalating, admin):
    monitor, pager = escalating
    body = b"".join(backup_chunks(CONFIG, monitor_secrets=True, channel_secrets=True))
    record = policy_record(body)
    assert (record["escalate_after_minutes"], record["escalation_channels"]) == (20, [pager.pk])
    alert_policy_set(monitor, escalate_after_minutes=None, escalation_channels=[])

    assert post(admin, body).status_code == 200

    restored = MonitorAlertPolicy.objects.get(monitor_id=monitor.pk)
    assert restored.escalate_after_minutes == 20
    assert list(restored.escalation_channels.values_list("pk", flat=True)) == [pager.pk]


def test_a_file_from_before_escalation_restores_without_it(escalating, admin):
    monitor, _ = escalating
    lines = []
    for line in b"".join(
        backup_chunks(CONFIG, monitor_secrets=True, channel_secrets=True)
    ).splitlines():
        record = json.loads(line)
        if record["record"] == "policy":
            del record["escalate_after_minutes"], record["escalation_channels"]
        lines.append(json.dumps(record).encode())

    assert post(admin, b"\n".join(lines) + b"\n").status_code == 200

    restored = MonitorAlertPolicy.objects.get(monitor_id=monitor.pk)
    assert restored.escalate_after_minutes is None
    assert not restored.escalation_channels.exists()


def test_an_escalation_channel_not_in_the_file_is_refused(escalating, admin):
    body = b"".join(backup_chunks(CONFIG, monitor_secrets=True, channel_secrets=True))
    broken = body.replace(b'"escalation_channels": [', b'"escalation_channels": [99999, ')
    if broken == body:
        broken = body.replace(b'"escalation_channels":[', b'"escalation_channels":[99999,')

    answer = post(admin, broken)

    assert answer.status_code == 400
    assert "escalation_channels': channel 99999 is not in the file" in answer.json()["detail"]
