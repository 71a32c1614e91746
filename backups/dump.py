"""Writing a backup: the records of docs/backup.md as lines of UTF-8 JSON, streamed.

``backup_chunks`` yields bytes (about 64 KiB at a time) from querysets read with
``.iterator(chunk_size=…)``: memory stays bounded whatever the number of results. On
PostgreSQL the whole backup reads one snapshot (a REPEATABLE READ, READ ONLY transaction);
SQLite (WAL) has no such snapshot across statements without taking the write lock, so the
history records of a monitor created or deleted while the backup runs are left out: every
record in a file names a monitor of that file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from alerts.channels import REGISTRY as CHANNEL_KINDS
from alerts.models import Channel, Dependency, MaintenanceWindow, MonitorAlertPolicy
from alerts.selectors import channel_public_config
from backups.records import (
    ENCRYPTED,
    END,
    INCLUDED,
    MASKED,
    codec_for,
    header_record,
    record_types,
    rfc3339,
)
from lib.secrets_at_rest import SecretsKeyError, is_sealed, open_sealed, seal
from monitors.models import Monitor
from monitors.secrets import masked_properties, masked_target, sealed_properties

CHUNK_ROWS = 2000
FLUSH_BYTES = 64 * 1024


def _line(record: dict[str, object]) -> bytes:
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def backup_chunks(
    kind: str,
    *,
    monitor_secrets: bool,
    channel_secrets: bool,
    plaintext: bool = False,
    progress: Callable[[dict[str, int]], None] | None = None,
) -> Iterator[bytes]:
    """The backup of ``kind`` (``config`` or ``full``) as chunks of bytes.

    Secrets are written only when the flags say so (the header says which): sealed as they
    are stored (``encrypted``), or opened when ``plaintext`` (an admin's secret-bearing
    backup: ``included``); masked ones are the API's masks. ``progress`` is called with the
    counts so far, every few thousand records and at the end.
    """
    shown = INCLUDED if plaintext else ENCRYPTED
    counts: dict[str, int] = {}
    buffer: list[bytes] = []
    size = 0
    with _snapshot():
        secrets = {
            "monitors": shown if monitor_secrets else MASKED,
            "channels": shown if channel_secrets else MASKED,
        }
        yield _line(
            header_record(
                kind,
                nanomon=settings.VERSION,
                database=connection.vendor,
                created=timezone.now(),
                secrets=secrets,
            )
        )
        monitor_ids: set[int] = set()
        for record_type in record_types(kind):
            if record_type == "channel":
                records = _channels(secrets["channels"])
            elif record_type == "monitor":
                records = _monitors(secrets["monitors"], monitor_ids)
            elif record_type == "policy":
                records = _policies(monitor_ids)
            elif record_type == "window":
                records = _windows(monitor_ids)
            else:
                records = _history(record_type, monitor_ids, reveal=monitor_secrets)
            count = 0
            for record in records:
                data = _line(record)
                buffer.append(data)
                size += len(data)
                count += 1
                if size >= FLUSH_BYTES:
                    yield b"".join(buffer)
                    buffer, size = [], 0
                    if progress is not None:
                        progress({**counts, record_type: count})
            counts[record_type] = count
        buffer.append(_line({"record": END, "counts": counts}))
        yield b"".join(buffer)
    if progress is not None:
        progress(counts)


@contextmanager
def _snapshot():
    """One snapshot for every query of the backup, where the database gives it cheaply (in
    a transaction already, as in tests, that transaction's isolation is what it is)."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def _opened(value: object) -> object:
    """A sealed value opened for a plaintext backup; one no key opens stays sealed (a restore
    with the key that sealed it takes it)."""
    try:
        return open_sealed(value) if is_sealed(value) else value
    except SecretsKeyError:
        return value


def _channel_config(channel: Channel, secrets: str) -> dict[str, object]:
    if secrets == MASKED:
        return channel_public_config(channel)
    transport = CHANNEL_KINDS.get(channel.kind)
    config = dict(channel.config or {})
    if transport is None:
        return config
    if secrets == ENCRYPTED:
        return transport.sealed_config(config)
    for spec in transport.fields:
        if spec.secret and is_sealed(config.get(spec.name)):
            opened = _opened(config[spec.name])
            config[spec.name] = opened if is_sealed(opened) else json.loads(opened)
    return config


def _channels(secrets: str) -> Iterator[dict[str, object]]:
    for channel in Channel.objects.order_by("pk").iterator(chunk_size=CHUNK_ROWS):
        yield {
            "record": "channel",
            "id": channel.pk,
            "name": channel.name,
            "kind": channel.kind,
            "enabled": channel.enabled,
            "default": channel.is_default,
            "tags": list(channel.tags or []),
            "builtin": channel.builtin,
            # The built-in channel's settings are the environment's: its stored config is {}.
            "config": {} if channel.builtin else _channel_config(channel, secrets),
            "created": rfc3339(channel.created_at),
            "updated": rfc3339(channel.updated_at),
        }


_MONITOR_COLUMNS = (
    ("id", "id"),
    ("name", "name"),
    ("type", "kind"),
    ("interval", "interval"),
    ("target", "target"),
    ("rule", "rule"),
    ("enabled", "enabled"),
    ("properties", "properties"),
    ("created", "created_at"),
    ("updated", "updated_at"),
    ("pushToken", "push_token"),
    ("group", "group"),
    ("tags", "tags"),
)


def _monitors(secrets: str, seen: set[int]) -> Iterator[dict[str, object]]:
    """Each monitor as the API exports it (docs/api.md: ``type`` is the monitor's type), with
    its id and dates; its secret properties sealed, opened or masked as ``secrets`` says (a
    target's credentials are in full unless masked: they are not sealed at rest)."""
    keys = tuple(key for key, _ in _MONITOR_COLUMNS)
    rows = Monitor.objects.order_by("pk").values_list(*(column for _, column in _MONITOR_COLUMNS))
    for row in rows.iterator(chunk_size=CHUNK_ROWS):
        record = {"record": "monitor", **dict(zip(keys, row, strict=True))}
        record["created"], record["updated"] = rfc3339(row[8]), rfc3339(row[9])
        record["properties"] = dict(record["properties"] or {})
        properties = record["properties"]
        if secrets == MASKED:
            record["properties"] = masked_properties(record["type"], properties)
            record["target"] = masked_target(record["target"])
        elif secrets == ENCRYPTED:
            record["properties"] = sealed_properties(record["type"], properties)
        else:
            record["properties"] = {name: _opened(value) for name, value in properties.items()}
        # A push monitor's token is its jobs' credential: sealed, in plaintext, or left out
        # (masked: the restore gives it a new one), as its secrets.
        token = record.pop("pushToken")
        if token and secrets != MASKED:
            record["pushToken"] = seal(token) if secrets == ENCRYPTED else token
        seen.add(row[0])
        yield record


def _policies(monitor_ids: set[int]) -> Iterator[dict[str, object]]:
    policies = MonitorAlertPolicy.objects.order_by("monitor_id").prefetch_related(
        "channels", "escalation_channels"
    )
    parents: dict[int, list[int]] = {}  # alerts.dependencies: kept with the child's policy
    for child_id, parent_id in Dependency.objects.order_by("child_id", "parent_id").values_list(
        "child_id", "parent_id"
    ):
        if parent_id in monitor_ids:
            parents.setdefault(child_id, []).append(parent_id)
    for policy in policies.iterator(chunk_size=CHUNK_ROWS):
        if policy.monitor_id not in monitor_ids:
            continue
        channels = sorted(channel.pk for channel in policy.channels.all())
        yield {
            "record": "policy",
            "monitor": policy.monitor_id,
            "fail_threshold": policy.fail_threshold,
            "recover_threshold": policy.recover_threshold,
            "reminder_minutes": policy.reminder_minutes,
            "muted": policy.muted,
            "use_default_channels": policy.use_default_channels,
            "channels": channels,
            "escalate_after_minutes": policy.escalate_after_minutes,
            "escalation_channels": sorted(c.pk for c in policy.escalation_channels.all()),
            "canary": policy.canary,
            "depends_on": parents.get(policy.monitor_id, []),
        }


def _windows(monitor_ids: set[int]) -> Iterator[dict[str, object]]:
    """Each maintenance window with the ids of the monitors it covers by choice (those of the
    file); its wall time as the API writes it (``HH:MM:SS``), its dates RFC 3339."""
    chosen: dict[int, list[int]] = {}
    through = MaintenanceWindow.monitors.through
    for window_id, monitor_id in through.objects.order_by(
        "maintenancewindow_id", "monitor_id"
    ).values_list("maintenancewindow_id", "monitor_id"):
        if monitor_id in monitor_ids:
            chosen.setdefault(window_id, []).append(monitor_id)
    for window in MaintenanceWindow.objects.order_by("pk").iterator(chunk_size=CHUNK_ROWS):
        yield {
            "record": "window",
            "id": window.pk,
            "name": window.name,
            "reason": window.reason,
            "schedule": window.schedule,
            "starts_at": rfc3339(window.starts_at),
            "ends_at": rfc3339(window.ends_at),
            "weekdays": list(window.weekdays or []),
            "days_of_month": list(window.days_of_month or []),
            "start_time": window.start_time.isoformat() if window.start_time else None,
            "cron": window.cron,
            "duration_minutes": window.duration_minutes,
            "time_zone": window.time_zone,
            "all_monitors": window.all_monitors,
            "monitors": chosen.get(window.pk, []),
            "tags": list(window.tags or []),
            "created": rfc3339(window.created_at),
            "updated": rfc3339(window.updated_at),
        }


_HISTORY_ORDER = {
    "state": ("monitor_id",),
    "result": ("id",),
    "rollup": ("monitor_id", "resolution", "start"),
}


def _history(record_type: str, monitor_ids: set[int], *, reveal: bool) -> Iterator[dict]:
    """A history model's rows by key; a result's target snapshot masked as the results API
    masks it for readers who may not see secrets."""
    codec = codec_for(record_type)
    rows = codec.model.objects.order_by(*_HISTORY_ORDER[record_type]).values_list(*codec.columns)
    position = codec.columns.index("monitor_id")
    mask_target = record_type == "result" and not reveal
    for row in rows.iterator(chunk_size=CHUNK_ROWS):
        if row[position] in monitor_ids:
            record = codec.encode(row)
            if mask_target:
                record["monitor_target"] = masked_target(record["monitor_target"])
            yield record
