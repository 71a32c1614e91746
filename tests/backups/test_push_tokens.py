"""A push monitor's token in backups: sealed by default, in plaintext on request, left out when
masked (the restore then makes a new one); a restored push monitor waits for its first ping."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backups.dump import backup_chunks
from backups.records import CONFIG
from lib.secrets_at_rest import is_sealed
from monitors.models import Monitor
from tests.backups.conftest import records

pytestmark = pytest.mark.django_db


def post(client, body: bytes):
    return client.generic("POST", "/api/backup", body, content_type="application/x-ndjson")


@pytest.fixture
def push_monitor(make_monitor):
    return make_monitor(name="job", kind="push", target="cron job", interval="1h")


def monitor_records(body: bytes) -> list[dict]:
    return [record for record in records(body) if record["record"] == "monitor"]


def test_the_token_is_sealed_in_plaintext_or_left_out(push_monitor, make_monitor):
    make_monitor(name="web")
    sealed = b"".join(backup_chunks(CONFIG, monitor_secrets=True, channel_secrets=True))
    plain = b"".join(
        backup_chunks(CONFIG, monitor_secrets=True, channel_secrets=True, plaintext=True)
    )
    masked = b"".join(backup_chunks(CONFIG, monitor_secrets=False, channel_secrets=False))
    job, web = monitor_records(sealed)
    assert is_sealed(job["pushToken"])
    assert "pushToken" not in web
    assert monitor_records(plain)[0]["pushToken"] == push_monitor.push_token
    assert "pushToken" not in monitor_records(masked)[0]
    assert push_monitor.push_token not in (sealed + masked).decode()


def test_a_restore_keeps_the_token_and_the_next_deadline_is_a_period_away(push_monitor, admin):
    body = b"".join(backup_chunks(CONFIG, monitor_secrets=True, channel_secrets=True))
    before = timezone.now()
    assert post(admin, body).status_code == 200
    restored = Monitor.objects.get(pk=push_monitor.pk)
    assert restored.push_token == push_monitor.push_token
    assert restored.next_run_at >= before + timedelta(hours=1, minutes=1)


def test_a_masked_backup_restores_with_a_new_token(push_monitor, admin):
    body = b"".join(backup_chunks(CONFIG, monitor_secrets=False, channel_secrets=False))
    assert post(admin, body).status_code == 200
    token = Monitor.objects.get(pk=push_monitor.pk).push_token
    assert token
    assert token != push_monitor.push_token


def test_a_bad_token_is_refused_naming_the_line(push_monitor, admin):
    body = b"".join(
        backup_chunks(CONFIG, monitor_secrets=True, channel_secrets=True, plaintext=True)
    )
    bad = body.replace(push_monitor.push_token.encode(), b"short")
    response = post(admin, bad)
    assert response.status_code == 400
    assert "field 'pushToken' must be 16 to 64 letters" in response.content.decode()


def test_group_and_tags_round_trip(make_monitor, admin):
    monitor = make_monitor(name="db", kind="tcp", target="127.0.0.1:5432")
    Monitor.objects.filter(pk=monitor.pk).update(group="Databases", tags=["db", "prod"])
    body = b"".join(backup_chunks(CONFIG, monitor_secrets=True, channel_secrets=True))
    (record,) = monitor_records(body)
    assert (record["group"], record["tags"]) == ("Databases", ["db", "prod"])
    Monitor.objects.filter(pk=monitor.pk).update(group="", tags=[])
    assert post(admin, body).status_code == 200
    restored = Monitor.objects.get(pk=monitor.pk)
    assert (restored.group, restored.tags) == ("Databases", ["db", "prod"])
