"""The backup format (docs/backup.md): JSON Lines, one record per line, each an object whose
``record`` key says what it is (``type`` stays a monitor's type, as the API writes it), in
this order:

1. ``header``: ``format`` (``nanomon-backup``), ``version`` (1), ``kind`` (``config`` or
   ``full``), ``nanomon`` (the version that wrote it), ``database`` (``sqlite`` or
   ``postgresql``), ``created`` (UTC, RFC 3339), ``records`` (the record types the file may
   hold, in order) and ``secrets`` (``encrypted``: sealed as stored, ``enc:v1:…``;
   ``included``: in plaintext, on an admin's request; or ``masked``; for monitors and
   channels);
2. ``channel``, ``monitor``, ``policy``, ``window`` (maintenance windows) records (every
   kind), then for ``full`` ``state``, ``result`` and ``rollup`` records;
3. ``end``, with the count of each type: a file cut at a line boundary is refused too.

Ids are kept (results name their monitor by id) and each type's records come in ascending
order of their key, so a duplicate is seen by comparing with the previous record alone.

The ``state``, ``result`` and ``rollup`` records hold their model's columns (a foreign key by
its field name: ``monitor``); this module turns one row into a record and a record back into
checked column values (``ModelCodec``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django.apps import apps
from django.db import models
from django.utils.dateparse import parse_datetime

FORMAT = "nanomon-backup"
VERSION = 1
CONFIG, FULL = "config", "full"
KINDS = (CONFIG, FULL)
INCLUDED, ENCRYPTED, MASKED = "included", "encrypted", "masked"
CONFIG_TYPES = ("channel", "monitor", "policy", "window")
HISTORY_TYPES = ("state", "result", "rollup")
END = "end"
# The longest line read: a monitor's properties may hold 64 KiB values, a result its outputs.
MAX_LINE_BYTES = 16 * 1024 * 1024


class Refused(Exception):
    """A backup that cannot be restored: ``line`` (from 1, 0 when not tied to a line) and why.
    Never holds a secret value: it names the record and the field."""

    def __init__(self, line: int, message: str) -> None:
        self.line = line
        self.message = message
        super().__init__(f"line {line}: {message}" if line else message)


def rollup_model() -> type[models.Model] | None:
    """``results.Rollup`` when this version has it (the format lists ``rollup`` then)."""
    try:
        return apps.get_model("results", "Rollup")
    except LookupError:
        return None


def record_types(kind: str) -> tuple[str, ...]:
    """The record types a backup of ``kind`` holds, in file order."""
    if kind == CONFIG:
        return CONFIG_TYPES
    history = HISTORY_TYPES if rollup_model() is not None else HISTORY_TYPES[:2]
    return CONFIG_TYPES + history


def rfc3339(value: datetime | None) -> str | None:
    """A date as the API writes it: UTC, ISO 8601, ``Z``."""
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def parse_moment(value: object, field: str, line: int, *, null: bool = False) -> datetime | None:
    """An RFC 3339 date with its offset, or None when ``null`` allows it."""
    if value is None and null:
        return None
    moment = parse_datetime(value) if isinstance(value, str) else None
    if moment is None or moment.tzinfo is None:
        raise Refused(line, f"field '{field}' must be a date with its offset (RFC 3339)")
    return moment


@dataclass(frozen=True)
class Header:
    kind: str
    version: int
    nanomon: str
    database: str
    created: str
    records: tuple[str, ...]
    secrets: dict[str, str]


def header_record(
    kind: str, *, nanomon: str, database: str, created: datetime, secrets: dict[str, str]
) -> dict[str, object]:
    return {
        "record": "header",
        "format": FORMAT,
        "version": VERSION,
        "kind": kind,
        "nanomon": nanomon,
        "database": database,
        "created": rfc3339(created),
        "records": list(record_types(kind)),
        "secrets": secrets,
    }


def read_header(record: object) -> Header:
    """The header of line 1, checked: what this version can restore."""
    if not isinstance(record, dict) or record.get("record") != "header":
        raise Refused(1, 'the first line must be the header record ({"record": "header", …})')
    if record.get("format") != FORMAT:
        raise Refused(1, f"field 'format' must be '{FORMAT}': this is not a NanoMon backup")
    version = record.get("version")
    if version != VERSION:
        raise Refused(1, f"field 'version' is {version!r}: this NanoMon restores version {VERSION}")
    kind = record.get("kind")
    if kind not in KINDS:
        raise Refused(1, "field 'kind' must be 'config' or 'full'")
    records = record.get("records")
    allowed = record_types(kind)
    if not isinstance(records, list) or any(name not in allowed for name in records):
        raise Refused(1, f"field 'records' must list some of {', '.join(allowed)}")
    secrets = record.get("secrets")
    if not isinstance(secrets, dict) or any(
        secrets.get(name) not in (INCLUDED, ENCRYPTED, MASKED) for name in ("monitors", "channels")
    ):
        raise Refused(
            1,
            "field 'secrets' must say 'encrypted', 'included' or 'masked' for monitors, channels",
        )
    parse_moment(record.get("created"), "created", 1)
    return Header(
        kind=kind,
        version=version,
        nanomon=str(record.get("nanomon", "")),
        database=str(record.get("database", "")),
        created=record["created"],
        records=tuple(records),
        secrets=secrets,
    )


# --- Model rows as records (state, result, rollup) ------------------------------------------

_INTEGERS = {
    "AutoField",
    "BigAutoField",
    "SmallAutoField",
    "IntegerField",
    "BigIntegerField",
    "SmallIntegerField",
    "PositiveIntegerField",
    "PositiveBigIntegerField",
    "PositiveSmallIntegerField",
}
_TEXTS = {"CharField", "TextField"}


class ModelCodec:
    """One model's columns as a record's keys: ``encode`` a ``values_list`` row, ``decode`` a
    record into the column values checked against each field (type, null, length, choices);
    a key left out takes the field's default, an unknown key is refused."""

    def __init__(self, record_type: str, model: type[models.Model], *, exclude=()) -> None:
        self.record_type = record_type
        self.model = model
        self.fields = [
            field
            for field in model._meta.concrete_fields
            if field.name not in exclude and not getattr(field, "generated", False)
        ]
        self.keys = tuple(field.name for field in self.fields)
        self.columns = tuple(field.attname for field in self.fields)
        self._dates = tuple(isinstance(field, models.DateTimeField) for field in self.fields)

    def encode(self, row: tuple) -> dict[str, object]:
        record: dict[str, object] = {"record": self.record_type}
        for key, value, is_date in zip(self.keys, row, self._dates, strict=True):
            record[key] = rfc3339(value) if is_date else value
        return record

    def decode(self, record: dict[str, object], line: int) -> dict[str, object]:
        unknown = set(record) - {"record", *self.keys}
        if unknown:
            raise Refused(line, f"{self.record_type} record: unknown field '{sorted(unknown)[0]}'")
        values = {}
        for field in self.fields:
            if field.name in record:
                value = _checked(field, record[field.name], self.record_type, line)
            elif field.has_default():
                value = field.get_default()
            elif field.null:
                value = None
            else:
                raise Refused(line, f"{self.record_type} record: field '{field.name}' is missing")
            values[field.attname] = value
        return values


def _checked(field: models.Field, value: object, record_type: str, line: int) -> object:
    name = f"{record_type} record: field '{field.name}'"
    if value is None:
        if field.null:
            return None
        raise Refused(line, f"{name} may not be null")
    target = field.target_field if field.is_relation else field
    internal = target.get_internal_type()
    if internal in _INTEGERS:
        if not isinstance(value, int) or isinstance(value, bool):
            raise Refused(line, f"{name} must be an integer")
        if (internal.startswith("Positive") or internal.endswith("AutoField")) and value < 0:
            raise Refused(line, f"{name} must not be negative")
    elif internal == "FloatField":
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise Refused(line, f"{name} must be a number")
        value = float(value)
    elif internal in _TEXTS:
        if not isinstance(value, str):
            raise Refused(line, f"{name} must be a string")
        if "\x00" in value:
            raise Refused(line, f"{name} holds a NUL character")
        if field.max_length is not None and len(value) > field.max_length:
            raise Refused(line, f"{name} is longer than {field.max_length} characters")
    elif internal == "BooleanField":
        if not isinstance(value, bool):
            raise Refused(line, f"{name} must be true or false")
    elif internal == "DateTimeField":
        value = parse_moment(value, field.name, line)
    if field.choices and value not in {choice for choice, _ in field.flatchoices}:
        raise Refused(line, f"{name} is not one of its choices")
    return value


def codec_for(record_type: str) -> ModelCodec:
    """The codec of a history record type (``state``, ``result``, ``rollup``)."""
    if record_type == "state":
        return ModelCodec("state", apps.get_model("results", "MonitorState"))
    if record_type == "result":
        return ModelCodec("result", apps.get_model("results", "Result"))
    if record_type == "rollup":
        return ModelCodec("rollup", rollup_model(), exclude=("id",))
    raise KeyError(record_type)
