"""A small installation to back up: monitors with secrets, a webhook channel with a secret URL
and headers, an alert policy, results and (when the model exists) rollups."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from alerts.configuration import alert_policy_set, channel_create
from backups.dump import backup_chunks
from backups.records import FULL, rollup_model
from results.models import Result

SECRETS = ("s3cret-token", "hunter2", "Bearer abc.def", "hook-secret-path", "hook-key-value")


def records(body: bytes) -> list[dict]:
    return [json.loads(line) for line in body.splitlines() if line.strip()]


def current_state() -> list[dict]:
    """Everything a full backup holds now, secrets included, without the header (its date)."""
    body = b"".join(backup_chunks(FULL, monitor_secrets=True, channel_secrets=True, plaintext=True))
    return records(body)[1:]


@pytest.fixture
def installation(make_monitor, now):
    web = make_monitor(
        name="web",
        target="https://user:hunter2@example.com/health?token=s3cret-token",
        properties={"headers": json.dumps({"Authorization": "Bearer abc.def"})},
    )
    tcp = make_monitor(name="ssh", kind="tcp", target="127.0.0.1:22", interval="1m", enabled=False)
    hook = channel_create(
        name="hook",
        kind="webhook",
        config={
            "url": "https://hooks.example.com/hook-secret-path",
            "headers": {"X-Hook-Key": "hook-key-value"},
        },
        is_default=False,
    )
    alert_policy_set(web, fail_threshold=3, use_default_channels=False, channels=[hook])
    Result.objects.bulk_create(
        Result(
            monitor=monitor,
            monitor_name=monitor.name,
            monitor_target=monitor.target,
            date=now - timedelta(minutes=index),
            scheduled_for=now - timedelta(minutes=index),
            status=index % 3,
            value=index * 1.25,
            message=f"run {index}",
            outputs={"statusCode": 200} if index % 2 else None,
            duration_ms=12.5,
        )
        for monitor in (web, tcp)
        for index in range(30)
    )
    rollup = rollup_model()
    if rollup is not None:
        rollup.objects.create(
            monitor=web, resolution="hour", start=now.replace(minute=0), runs_ok=10, runs_error=5
        )
    return {"web": web, "tcp": tcp, "hook": hook}
