"""The bodies of the list and export routes, which carry every monitor at once.

``MonitorSerializer(many=True)`` spent about 40 µs per monitor in DRF's field machinery and
the ORM's model instances: 0.9 s of a 1 s answer at 10,000 monitors (bench/README.md, read
path). Here the same JSON is made from plain rows (``monitors_data``); on PostgreSQL the list
route's body is written by the database (``monitors_json``): each monitor's definition is kept
as JSON text by a trigger (``Monitor.listed_json``, migration 0002), and the query appends the
current status. tests/monitors/api/test_listing.py holds both equal to the serializers' output.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from django.db.models import BooleanField, ExpressionWrapper, F, Func, Q, QuerySet, TextField

from lib.secrets_at_rest import PREFIX as SEALED
from monitors.models import Monitor
from monitors.probes import REGISTRY
from monitors.secrets import masked_properties, masked_target, revealed_properties

# The secret properties of each type that has some (masked for readers who may not change).
SECRET_PROPERTIES = {
    kind: names
    for kind, probe in REGISTRY.items()
    if (names := tuple(spec.name for spec in probe.properties if spec.secret))
}
# The columns of a listed monitor, in the order of its JSON keys (MonitorSerializer.Meta).
_COLUMNS = (
    ("id", "id"),
    ("name", "name"),
    ("type", "kind"),
    ("interval", "interval"),
    ("target", "target"),
    ("rule", "rule"),
    ("updated", "updated_at"),
    ("enabled", "enabled"),
    ("properties", "properties"),
    ("created", "created_at"),
    ("group", "group"),
    ("tags", "tags"),
    ("status", "state__last_status"),
    ("lastRun", "state__last_run_at"),
)
_EXPORTED_KEYS = (
    "name", "type", "interval", "target", "rule", "enabled", "properties", "group", "tags",
)  # fmt: skip
_DATES = frozenset({"updated", "created", "lastRun"})


def _rfc3339(value: datetime | None) -> str | None:
    """A date as DRF's ``DateTimeField`` writes it (TIME_ZONE is UTC): ISO 8601, ``Z``."""
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def monitors_data(
    monitors: QuerySet[Monitor], *, reveal_secrets: bool, exported: bool = False
) -> list[dict[str, object]]:
    """``MonitorSerializer(monitors, many=True).data``, or ``ExportedMonitorSerializer``'s
    when ``exported``, read from plain rows: the same keys, values and masking."""
    keys = _EXPORTED_KEYS if exported else tuple(key for key, _ in _COLUMNS)
    fields = dict(_COLUMNS)
    data = []
    for row in monitors.values_list(*(fields[key] for key in keys)):
        item = dict(zip(keys, row, strict=True))
        for key in _DATES.intersection(item):
            item[key] = _rfc3339(item[key])
        item["properties"] = dict(item["properties"] or {})
        item["tags"] = list(item["tags"] or [])
        if not reveal_secrets:
            if item["type"] in SECRET_PROPERTIES:
                item["properties"] = masked_properties(item["type"], item["properties"])
            item["target"] = masked_target(item["target"])
        elif item["type"] in SECRET_PROPERTIES:
            item["properties"] = revealed_properties(item["type"], item["properties"])
        data.append(item)
    return data


class _ListedJSON(Func):
    """A listed monitor's JSON: its definition (``Monitor.listed_json``, kept by a trigger),
    then its status and last run, appended by PostgreSQL."""

    output_field = TextField()

    def __init__(self) -> None:
        super().__init__(F("listed_json"), F("state__last_status"), F("state__last_run_at"))

    def as_sql(self, compiler, connection, **extra):
        (definition, status, last_run), params = zip(
            *(compiler.compile(expression) for expression in self.get_source_expressions()),
            strict=True,
        )
        sql = (
            f"""{definition} || ',"status":' || coalesce({status}::text, 'null') """
            f"""|| ',"lastRun":' || coalesce(monitors_rfc3339({last_run}), 'null') || '}}'"""
        )
        return sql, [value for expression_params in params for value in expression_params]


def monitors_json(monitors: QuerySet[Monitor], *, reveal_secrets: bool) -> bytes:
    """The list route's JSON body, written by PostgreSQL; the same document as
    ``monitors_data`` gives. Python only joins the rows, and masks the few that hold a
    secret when the reader may not see them (a secret property, or a target that may carry
    credentials: ``masked_target`` needs an ``@`` or an ``=`` to find any), and opens the
    sealed secret properties of the rows that hold some for a reader who may (the stored JSON,
    and so ``listed_json``, holds them sealed)."""
    secret_names = sorted({name for names in SECRET_PROPERTIES.values() for name in names})
    rows = monitors.annotate(
        listed=_ListedJSON(),
        has_secret=ExpressionWrapper(
            Q(kind__in=SECRET_PROPERTIES, properties__has_any_keys=secret_names)
            | Q(target__contains="@")
            | Q(target__contains="="),
            output_field=BooleanField(),
        ),
    ).values_list("listed", "has_secret")
    parts = []
    for text, has_secret in rows:
        if has_secret and not reveal_secrets:
            item = json.loads(text)
            item["properties"] = masked_properties(item["type"], item["properties"])
            item["target"] = masked_target(item["target"])
            text = json.dumps(item, ensure_ascii=False, separators=(",", ":"))
        elif has_secret and SEALED in text:
            item = json.loads(text)
            item["properties"] = revealed_properties(item["type"], item["properties"])
            text = json.dumps(item, ensure_ascii=False, separators=(",", ":"))
        parts.append(text)
    return f"[{','.join(parts)}]".encode()
