"""Checking the configuration records of a backup (channel, monitor, policy, window) as the
API and the services check them, each into an unsaved model instance.

Every refusal names the line and the field, never a secret's value. A secret still masked (a
backup taken by someone who could not see it) is refused: storing it would replace the
secret by the mask.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.utils.dateparse import parse_time

from alerts.channels import REGISTRY as CHANNEL_KINDS
from alerts.dependencies import cycle_parents
from alerts.models import Channel, MaintenanceWindow, MonitorAlertPolicy
from backups.records import Refused, parse_moment
from lib.durations import parse_duration
from lib.errors import first_message
from lib.secrets_at_rest import SecretsKeyError, is_sealed, open_sealed
from monitors.api.serializers import ExportedMonitorSerializer
from monitors.imports import masked_secret_problem
from monitors.models import Monitor
from monitors.passive import passive_deadline
from monitors.probes import is_passive
from monitors.secrets import MASK, sealed_properties, secret_property_names
from monitors.services import push_token_new
from monitors.tags import tags_normalized

CHANNEL_KEYS = frozenset(
    {"record", "id", "name", "kind", "enabled", "default", "builtin", "config"}
    | {"created", "updated", "tags"}
)
MONITOR_KEYS = frozenset(
    {"record", "id", "name", "type", "interval", "target", "rule", "enabled", "properties"}
    | {"created", "updated", "pushToken", "group", "tags"}
)
# A push token as NanoMon makes them (monitors.services.push_token_new), or longer.
PUSH_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")
POLICY_KEYS = frozenset(
    {"record", "monitor", "fail_threshold", "recover_threshold", "reminder_minutes", "muted"}
    | {"use_default_channels", "channels", "escalate_after_minutes", "escalation_channels"}
    | {"canary", "depends_on"}
)
WINDOW_KEYS = frozenset(
    {"record", "id", "name", "reason", "schedule", "starts_at", "ends_at", "weekdays"}
    | {"days_of_month", "start_time", "cron", "duration_minutes", "time_zone", "all_monitors"}
    | {"monitors", "tags", "created", "updated"}
)


def _unknown(record: dict, allowed: frozenset[str], what: str, line: int) -> None:
    unknown = set(record) - allowed
    if unknown:
        raise Refused(line, f"{what} record: unknown field '{sorted(unknown)[0]}'")


def record_id(record: dict, key: str, what: str, line: int, previous: int | None) -> int:
    """The record's id (or monitor id) under ``key``: a positive integer above ``previous``."""
    value = record.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise Refused(line, f"{what} record: field '{key}' must be a positive integer")
    if previous is not None and value <= previous:
        word = "duplicate" if value == previous else "out of order"
        raise Refused(
            line,
            f"{what} record: field '{key}' is {word} ({value} after {previous}): "
            "each id once, in ascending order",
        )
    return value


def _flag(record: dict, key: str, what: str, line: int) -> bool:
    value = record.get(key)
    if not isinstance(value, bool):
        raise Refused(line, f"{what} record: field '{key}' must be true or false")
    return value


def _dates(record: dict, what: str, line: int) -> tuple[datetime, datetime]:
    return (
        parse_moment(record.get("created"), f"{what} record: created", line),
        parse_moment(record.get("updated"), f"{what} record: updated", line),
    )


def checked_channel(record: dict, line: int, previous: int | None) -> Channel:
    _unknown(record, CHANNEL_KEYS, "channel", line)
    channel_id = record_id(record, "id", "channel", line, previous)
    name, kind, builtin = record.get("name"), record.get("kind"), record.get("builtin")
    if not isinstance(name, str) or not name or len(name) > 100:
        raise Refused(line, "channel record: field 'name' must be a string of 1 to 100 characters")
    if kind not in CHANNEL_KINDS:
        raise Refused(
            line, f"channel record: field 'kind' must be one of {', '.join(CHANNEL_KINDS)}"
        )
    if builtin not in (None, Channel.BUILTIN_SETTINGS_EMAIL):
        raise Refused(
            line,
            f"channel record: field 'builtin' must be null or '{Channel.BUILTIN_SETTINGS_EMAIL}'",
        )
    config = record.get("config")
    if not isinstance(config, dict):
        raise Refused(line, "channel record: field 'config' must be an object")
    transport = CHANNEL_KINDS[kind]
    if builtin:
        config = {}  # the built-in channel's settings are the ALERT_SMTP_* variables
    else:
        for spec in transport.fields:
            value = config.get(spec.name)
            if spec.secret and MASK in _text(value):
                raise Refused(
                    line,
                    f"channel record: field 'config.{spec.name}' holds a masked secret: restore "
                    "a backup taken by an admin (GET /api/backup as an admin, or manage.py backup)",
                )
        secret = {spec.name for spec in transport.fields if spec.secret}
        _check_sealed(config, secret, "channel record: field 'config", line)
        try:
            config = transport.clean_config(config)
        except ValidationError as error:
            field, messages = next(iter(error.message_dict.items()))
            raise Refused(line, f"channel record: field 'config.{field}': {messages[0]}") from None
    tags = record.get("tags")  # absent or null (a backup older than channel tags): none
    try:
        if not isinstance(tags, list | None):
            raise ValueError("tags must be a list of strings")
        tags = tags_normalized(tags)
    except ValueError as error:
        raise Refused(line, f"channel record: field 'tags': {error}") from None
    created, updated = _dates(record, "channel", line)
    channel = Channel(
        id=channel_id,
        name=name,
        kind=kind,
        enabled=_flag(record, "enabled", "channel", line),
        is_default=_flag(record, "default", "channel", line),
        tags=tags,
        builtin=builtin,
        # Stored sealed (bulk_create skips Channel.save); a sealed one in the file was opened
        # by clean_config, so it is sealed again with the first key.
        config=transport.sealed_config(config),
        created_at=created,
        updated_at=updated,
    )
    return channel


def _check_sealed(values: dict, secret: set[str], where: str, line: int) -> None:
    """Refuse a sealed secret that no key here opens, saying what to do."""
    for name, value in values.items():
        if name not in secret or not is_sealed(value):
            continue
        try:
            open_sealed(value)
        except SecretsKeyError:
            raise Refused(
                line,
                f"{where}.{name}' is sealed with a key this NanoMon does not hold: set "
                "NANOMON_SECRETS_KEY to include it, or restore a backup with secrets in "
                "plaintext (manage.py backup --with-secrets, GET /api/backup?secrets=plain)",
            ) from None


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return " ".join(str(item) for item in value.values())
    if isinstance(value, list):
        return " ".join(str(item) for item in value)
    return ""


def checked_monitor(record: dict, line: int, previous: int | None, *, now: datetime) -> Monitor:
    """A monitor checked as the API's import checks it, scheduled to run at once (enabled)
    or never (disabled), with no claim: the dispatcher takes it from there."""
    _unknown(record, MONITOR_KEYS, "monitor", line)
    monitor_id = record_id(record, "id", "monitor", line, previous)
    definition = {
        key: record[key]
        for key in MONITOR_KEYS - {"record", "id", "created", "updated", "pushToken"}
        if key in record
    }
    if isinstance(definition.get("properties"), dict):
        secret = set(secret_property_names(str(definition.get("type"))))
        _check_sealed(definition["properties"], secret, "monitor record: field 'properties", line)
    serializer = ExportedMonitorSerializer(data=definition)
    if not serializer.is_valid():
        raise Refused(line, f"monitor record: {first_message(serializer.errors)}")
    fields = dict(serializer.validated_data)
    problem = masked_secret_problem(fields["kind"], fields["properties"], target=fields["target"])
    if problem is not None:
        raise Refused(line, f"monitor record: {problem}")
    created, updated = _dates(record, "monitor", line)
    # Stored sealed (bulk_create skips Monitor.save); a sealed one in the file was checked
    # (opened) by the serializer's checks, so a key here opens it.
    fields["properties"] = sealed_properties(fields["kind"], fields["properties"])
    monitor = Monitor(
        id=monitor_id,
        **fields,
        interval_duration=timedelta(seconds=parse_duration(fields["interval"])),
        created_at=created,
        updated_at=updated,
        next_run_at=now if fields["enabled"] else None,
        lease_until=None,
        run_token=None,
        push_token=_push_token(record, fields["kind"], line),
    )
    if monitor.enabled and is_passive(monitor.kind):  # a push monitor: its first deadline
        monitor.next_run_at = passive_deadline(monitor, now)
    return monitor


def _push_token(record: dict, kind: str, line: int) -> str | None:
    """The record's push token (opened when sealed), or a new one for a push monitor that
    has none (a masked backup); None for other types."""
    if not is_passive(kind):
        return None
    token = record.get("pushToken")
    if token is None:
        return push_token_new()
    if is_sealed(token):
        try:
            token = open_sealed(token)
        except SecretsKeyError as error:
            raise Refused(line, f"monitor record: field 'pushToken': {error}") from None
    if not isinstance(token, str) or not PUSH_TOKEN.fullmatch(token):
        raise Refused(
            line, "monitor record: field 'pushToken' must be 16 to 64 letters, digits, - or _"
        )
    return token


def _threshold(record: dict, key: str, line: int, minimum: int) -> int | None:
    value = record.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= 32767:
        raise Refused(
            line, f"policy record: field '{key}' must be null or an integer from {minimum}"
        )
    return value


def checked_policy(
    record: dict,
    line: int,
    previous: int | None,
    *,
    monitor_ids: set[int],
    channel_ids: set[int],
    dependents: Mapping[int, Iterable[int]] | None = None,
) -> tuple[MonitorAlertPolicy, list[int], list[int], list[int]]:
    """A policy, its channel ids, its escalation channel ids and the ids of the monitors it
    depends on; its monitor, channels and parents must be in the file (the escalation,
    canary and depends_on keys are optional: files from before them restore none), and no
    parent may close a cycle with the dependencies of the policies above it (``dependents``:
    parent id → its children's ids), by the API's rule (``alerts.dependencies``)."""
    _unknown(record, POLICY_KEYS, "policy", line)
    monitor_id = record_id(record, "monitor", "policy", line, previous)
    if monitor_id not in monitor_ids:
        raise Refused(
            line, f"policy record: field 'monitor': monitor {monitor_id} is not in the file"
        )
    channels = _policy_channels(record, "channels", line, channel_ids)
    escalation = _policy_channels(record, "escalation_channels", line, channel_ids)
    escalate_after = record.get("escalate_after_minutes")
    if escalate_after is not None and (
        not isinstance(escalate_after, int)
        or isinstance(escalate_after, bool)
        or not 1 <= escalate_after <= 2**31 - 1
    ):
        raise Refused(
            line, "policy record: field 'escalate_after_minutes' must be null or an integer from 1"
        )
    reminder = record.get("reminder_minutes")
    if reminder is not None and (
        not isinstance(reminder, int) or isinstance(reminder, bool) or reminder < 0
    ):
        raise Refused(line, "policy record: field 'reminder_minutes' must be null or an integer")
    policy = MonitorAlertPolicy(
        monitor_id=monitor_id,
        fail_threshold=_threshold(record, "fail_threshold", line, 1),
        recover_threshold=_threshold(record, "recover_threshold", line, 1),
        reminder_minutes=reminder,
        muted=_flag(record, "muted", "policy", line),
        use_default_channels=_flag(record, "use_default_channels", "policy", line),
        escalate_after_minutes=escalate_after,
        canary=_flag(record, "canary", "policy", line) if "canary" in record else False,
    )
    parents = record.get("depends_on", [])
    if not isinstance(parents, list) or not all(
        isinstance(item, int) and not isinstance(item, bool) for item in parents
    ):
        raise Refused(line, "policy record: field 'depends_on' must be a list of monitor ids")
    for parent_id in parents:
        if parent_id != monitor_id and parent_id not in monitor_ids:
            raise Refused(
                line, f"policy record: field 'depends_on': monitor {parent_id} is not in the file"
            )
    closing = cycle_parents(dependents or {}, monitor_id, parents)
    if monitor_id in closing:
        raise Refused(
            line,
            f"policy record: field 'depends_on': monitor {monitor_id} is itself "
            "(a monitor cannot depend on itself)",
        )
    if closing:
        raise Refused(
            line,
            f"policy record: field 'depends_on': that would be a cycle: monitor {min(closing)} "
            f"already depends on monitor {monitor_id} (directly or through others, by the "
            "policies above this line)",
        )
    return policy, sorted(set(channels)), sorted(set(escalation)), sorted(set(parents))


def _policy_channels(record: dict, key: str, line: int, channel_ids: set[int]) -> list[int]:
    channels = record.get(key, [])
    if not isinstance(channels, list) or not all(
        isinstance(item, int) and not isinstance(item, bool) for item in channels
    ):
        raise Refused(line, f"policy record: field '{key}' must be a list of channel ids")
    for channel_id in channels:
        if channel_id not in channel_ids:
            raise Refused(
                line, f"policy record: field '{key}': channel {channel_id} is not in the file"
            )
    return channels


def checked_window(
    record: dict, line: int, previous: int | None, *, monitor_ids: set[int]
) -> tuple[MaintenanceWindow, list[int]]:
    """A maintenance window and the ids of the monitors it covers by choice (they must be in
    the file), checked by the rules every window is saved with: its fields' and
    ``MaintenanceWindow.clean``'s, through ``full_clean`` as ``alerts.maintenance.window_save``
    does (the id's uniqueness aside: ids ascend in the file). A key left out takes the model's
    default, as the API's create does."""
    _unknown(record, WINDOW_KEYS, "window", line)
    window_id = record_id(record, "id", "window", line, previous)
    texts: dict[str, str] = {}
    for key, default in (
        ("name", None),
        ("reason", ""),
        ("schedule", MaintenanceWindow.Schedule.ONCE),
        ("cron", ""),
        ("time_zone", "UTC"),
    ):
        value = record.get(key, default)
        if not isinstance(value, str) or "\x00" in value:
            raise Refused(line, f"window record: field '{key}' must be a string")
        texts[key] = value
    duration = record.get("duration_minutes")
    if duration is not None and (not isinstance(duration, int) or isinstance(duration, bool)):
        raise Refused(line, "window record: field 'duration_minutes' must be null or an integer")
    monitors = record.get("monitors", [])
    if not isinstance(monitors, list) or not all(
        isinstance(item, int) and not isinstance(item, bool) for item in monitors
    ):
        raise Refused(line, "window record: field 'monitors' must be a list of monitor ids")
    for monitor_id in monitors:
        if monitor_id not in monitor_ids:
            raise Refused(
                line, f"window record: field 'monitors': monitor {monitor_id} is not in the file"
            )
    tags = record.get("tags", [])
    try:
        if not isinstance(tags, list):
            raise ValueError("tags must be a list of strings")
        tags = tags_normalized(tags)
    except ValueError as error:
        raise Refused(line, f"window record: field 'tags': {error}") from None
    created, updated = _dates(record, "window", line)
    starts, ends = (
        parse_moment(record.get(key), f"window record: {key}", line, null=True)
        for key in ("starts_at", "ends_at")
    )
    window = MaintenanceWindow(
        id=window_id,
        **texts,
        starts_at=starts,
        ends_at=ends,
        weekdays=_days(record, "weekdays", 7, line),
        days_of_month=_days(record, "days_of_month", 31, line),
        start_time=_wall_time(record.get("start_time"), line),
        duration_minutes=duration,
        all_monitors=(
            _flag(record, "all_monitors", "window", line) if "all_monitors" in record else False
        ),
        tags=tags,
        created_at=created,
        updated_at=updated,
    )
    try:
        window.full_clean(validate_unique=False)
    except ValidationError as error:
        field, messages = next(iter(error.message_dict.items()))
        raise Refused(line, f"window record: field '{field}': {messages[0]}") from None
    return window, sorted(set(monitors))


def _days(record: dict, key: str, high: int, line: int) -> list[int]:
    """Weekdays or days of the month as the API takes them: numbers from 1 to ``high``."""
    days = record.get(key, [])
    if not isinstance(days, list) or not all(
        isinstance(day, int) and not isinstance(day, bool) and 1 <= day <= high for day in days
    ):
        raise Refused(line, f"window record: field '{key}' must be a list of numbers 1 to {high}")
    return days


def _wall_time(value: object, line: int) -> time | None:
    """A window's start time: null, or a wall time as the API writes it (``HH:MM:SS``)."""
    if value is None:
        return None
    try:
        parsed = parse_time(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise Refused(
            line, "window record: field 'start_time' must be null or a time (HH:MM:SS, RFC 3339)"
        )
    return parsed
