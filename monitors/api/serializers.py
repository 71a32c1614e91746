"""Monitor JSON in NanoMon's shape, read and written (docs/api.md).

Writing follows NanoMon's Go decoder, then its validation:

1. JSON types first: a string field given a number, ``enabled`` given ``123``, properties
   that are not an object of strings → 400 naming the field. ``null`` or an absent key is the
   zero value (``""``, ``false``, ``{}``), as in Go; unknown keys are ignored.
2. Then the contract's checks in the contract's order (``check_monitor_definition``), whose
   messages are the problem's ``detail`` exactly (``missing monitor name``).
3. Then this project's length limits (the database columns).

Strings are kept exactly as sent (no trimming).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from lib.errors import first_message
from lib.status import STATUS_HELP, Status
from monitors.autodetect import decide_kind, why_undecided
from monitors.engine import CheckRequest
from monitors.imports import masked_secret_problem
from monitors.models import Monitor
from monitors.probes import REGISTRY
from monitors.secrets import (
    MASK,
    masked_properties,
    masked_target,
    restore_masked_target,
    revealed_properties,
)
from monitors.services import monitor_create, monitor_update
from monitors.tags import MAX_TAGS, TAG_RULE, group_problem, tags_normalized
from monitors.validation import UNSET_INTERVAL, check_monitor_definition

# Longest property value accepted (an HTTP body to send, a headers object...).
MAX_PROPERTY_LENGTH = 65536
# Column sizes, checked after the contract's messages so that their order is kept.
# (The rule's limit, 4096, is the rule parser's: "rule invalid: expression too long".)
LENGTH_LIMITS = {
    field: Monitor._meta.get_field(field).max_length for field in ("name", "target", "interval")
}

PROPERTIES_SCHEMA = {
    "type": "object",
    "additionalProperties": {"type": "string"},
    "description": "Per-type settings, every value a string (see docs/monitor-types.md).",
}


def _has_forbidden_characters(text: str) -> bool:
    """NUL (PostgreSQL cannot store it) or a lone surrogate (not encodable as UTF-8)."""
    return "\x00" in text or any("\ud800" <= character <= "\udfff" for character in text)


class StrictCharField(serializers.CharField):
    """A JSON string kept exactly as sent; ``null`` or absent mean ``""``."""

    default_error_messages = {"invalid": "must be a string"}

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("trim_whitespace", False)
        kwargs.setdefault("required", False)
        kwargs.setdefault("default", "")
        super().__init__(**kwargs)

    def validate_empty_values(self, data):
        if data is None and not self.read_only:
            return True, ""
        return super().validate_empty_values(data)

    def to_internal_value(self, data) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return data


class StrictBooleanField(serializers.BooleanField):
    """JSON ``true`` or ``false`` only (no ``1``, no ``"yes"``); ``null`` or absent mean false."""

    default_error_messages = {"invalid": "must be true or false"}

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("default", False)
        super().__init__(**kwargs)

    def validate_empty_values(self, data):
        if data is None and not self.read_only:
            return True, False
        return super().validate_empty_values(data)

    def to_internal_value(self, data) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


@extend_schema_field(PROPERTIES_SCHEMA)
class PropertiesField(serializers.Field):
    """An object of string → string; ``null`` or absent mean ``{}``."""

    default_error_messages = {"invalid": "must be an object of strings"}

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("default", dict)
        super().__init__(**kwargs)

    def validate_empty_values(self, data):
        if data is None and not self.read_only:
            return True, {}
        return super().validate_empty_values(data)

    def to_internal_value(self, data) -> dict[str, str]:
        if not isinstance(data, dict):
            self.fail("invalid")
        for key, value in data.items():
            if _has_forbidden_characters(key):
                raise serializers.ValidationError("names must be plain text")
            if not isinstance(value, str):
                raise serializers.ValidationError(f"value of '{key}' must be a string")
            if len(value) > MAX_PROPERTY_LENGTH:
                raise serializers.ValidationError(
                    f"value of '{key}' must be at most {MAX_PROPERTY_LENGTH} characters"
                )
            if _has_forbidden_characters(value):
                raise serializers.ValidationError(
                    f"value of '{key}' must not contain NUL or unpaired surrogate characters"
                )
        return dict(data)

    def to_representation(self, value) -> dict[str, object]:
        return dict(value or {})


@extend_schema_field(
    {
        "type": ["array", "null"],
        "items": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,39}$"},
        "maxItems": MAX_TAGS,
        "description": f"Labels to filter and select by: {TAG_RULE}; at most {MAX_TAGS}. "
        "Stored sorted, without repeats; null or absent: none.",
    }
)
class TagsField(serializers.Field):
    """A list of tags (``monitors.tags``); ``null`` or absent mean ``[]``."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("default", list)
        super().__init__(**kwargs)

    def validate_empty_values(self, data):
        if data is None and not self.read_only:
            return True, []
        return super().validate_empty_values(data)

    def to_internal_value(self, data) -> list[str]:
        if not isinstance(data, list):
            raise serializers.ValidationError("tags must be a list of strings")
        try:
            return tags_normalized(data)
        except ValueError as error:
            raise serializers.ValidationError(str(error)) from None

    def to_representation(self, value) -> list[str]:
        return list(value or [])


def restore_masked_secrets(
    kind: str, submitted: Mapping[str, str], stored: Mapping[str, object]
) -> dict[str, str]:
    """``submitted`` with masked secrets put back to their stored values.

    A client that read a masked monitor and PUTs it back must not replace the secret with the
    mask: a secret property equal to the masked form of the stored one keeps the stored value,
    and in a JSON object (the http ``headers``) each key whose value is the mask keeps its
    stored value while the other keys take the new ones.
    """
    restored = dict(submitted)
    probe_type = REGISTRY.get(kind)
    if probe_type is None:
        return restored
    for spec in probe_type.properties:
        new, old = submitted.get(spec.name), stored.get(spec.name)
        if not (spec.secret and isinstance(new, str) and isinstance(old, str) and old):
            continue
        if new == masked_properties(kind, {spec.name: old})[spec.name]:
            restored[spec.name] = old
        elif MASK in new:
            merged = _merge_masked_object(
                new, revealed_properties(kind, {spec.name: old})[spec.name]
            )
            if merged is not None:
                restored[spec.name] = merged
    return restored


def _merge_masked_object(new: str, old: str) -> str | None:
    try:
        new_object, old_object = json.loads(new), json.loads(old)
    except (ValueError, RecursionError):
        return None
    if not (isinstance(new_object, dict) and isinstance(old_object, dict)):
        return None
    merged = {
        key: old_object[key] if value == MASK and key in old_object else value
        for key, value in new_object.items()
    }
    return json.dumps(merged) if merged != new_object else None


def definition_errors(attrs: Mapping[str, object]) -> str | None:
    """The first problem with a typed monitor definition: the contract's checks in order,
    then the length limits. ``None`` when it is valid."""
    try:
        check_monitor_definition(
            name=attrs["name"],
            kind=attrs["kind"],
            interval=attrs["interval"],
            target=attrs["target"],
            rule=attrs["rule"],
            properties=attrs["properties"],
        )
    except DjangoValidationError as error:
        return error.messages[0]
    for field, limit in LENGTH_LIMITS.items():
        if len(attrs[field]) > limit:
            return f"{field} must be at most {limit} characters"
    return group_problem(str(attrs.get("group", "")))


def push_url(request, token: str) -> str:
    """A push monitor's ping URL (``/ping/<token>``; docs/push.md lists the others), absolute
    when the request is known."""
    path = reverse("ping", args=[token])
    return request.build_absolute_uri(path) if request is not None else path


class MonitorSerializer(serializers.ModelSerializer):
    """A monitor: NanoMon's fields, plus created, status and lastRun (read-only).

    Secret properties (the http headers) are masked for users who may not change monitors.
    """

    name = StrictCharField(help_text="Stored exactly as sent.")
    type = StrictCharField(
        source="kind",
        help_text="http, tcp, ping, dns, …; empty or absent: decided by the target (http:// or "
        "https:// → http with the rule status >= 200 && status < 400 unless one is given, "
        "host:port → tcp, host → ping).",
    )
    interval = StrictCharField(help_text="Go duration as written, at least 1s: 30s, 1m, 1.5h.")
    target = StrictCharField(help_text="URL (http), host:port (tcp), host (ping, dns).")
    rule = StrictCharField(help_text="Optional rule over the outputs, e.g. status == 200.")
    enabled = StrictBooleanField(help_text="Absent means false (NanoMon).")
    properties = PropertiesField()
    group = StrictCharField(
        help_text="Optional group (NanoMon upstream): a section of the pages; one line, at "
        "most 100 characters."
    )
    tags = TagsField()
    updated = serializers.DateTimeField(
        source="updated_at", read_only=True, help_text="Last change (RFC 3339, UTC)."
    )
    created = serializers.DateTimeField(
        source="created_at", read_only=True, help_text="Creation (RFC 3339, UTC)."
    )
    status = serializers.ChoiceField(
        source="state.last_status",
        choices=Status.choices,
        read_only=True,
        allow_null=True,
        help_text=f"Status of the last run: {STATUS_HELP}; null before the first run.",
    )
    lastRun = serializers.DateTimeField(  # camelCase: the name clients see
        source="state.last_run_at",
        read_only=True,
        allow_null=True,
        help_text="When the last run started; null before the first run.",
    )

    class Meta:
        model = Monitor
        fields = [
            "id",
            "name",
            "type",
            "interval",
            "target",
            "rule",
            "updated",
            "enabled",
            "properties",
            "created",
            "group",
            "tags",
            "status",
            "lastRun",
        ]

    def validate(self, attrs: dict[str, object]) -> dict[str, object]:
        # No type: the target decides it (and an http monitor's 2xx/3xx rule), gosrvmon's way.
        attrs["kind"], attrs["rule"] = decide_kind(attrs["kind"], attrs["target"], attrs["rule"])
        if self.instance is not None:
            attrs["properties"] = restore_masked_secrets(
                attrs["kind"], attrs["properties"], self.instance.properties or {}
            )
            attrs["target"] = restore_masked_target(attrs["target"], self.instance.target)
        message = definition_errors(attrs) or masked_secret_problem(
            attrs["kind"], attrs["properties"], target=attrs["target"]
        )
        if message is not None:
            raise serializers.ValidationError(message)
        return attrs

    def create(self, validated_data: dict[str, object]) -> Monitor:
        return monitor_create(**validated_data)

    def update(self, instance: Monitor, validated_data: dict[str, object]) -> Monitor:
        return monitor_update(instance, **validated_data)

    def to_representation(self, instance: Monitor) -> dict[str, object]:
        data = super().to_representation(instance)
        if not self.context.get("reveal_secrets", False):
            data["properties"] = masked_properties(instance.kind, data["properties"])
            data["target"] = masked_target(data["target"])
        else:
            data["properties"] = revealed_properties(instance.kind, data["properties"])
            if instance.push_token:  # the push URLs are the job's credential: as secrets
                data["pushUrl"] = push_url(self.context.get("request"), instance.push_token)
        return data


class ExportedMonitorSerializer(MonitorSerializer):
    """A monitor as exported and imported: NanoMon's fields without id and updated."""

    class Meta(MonitorSerializer.Meta):
        fields = [
            "name", "type", "interval", "target", "rule", "enabled", "properties", "group", "tags",
        ]  # fmt: skip


def exported_definitions(items: Iterable[object]) -> list[dict[str, object]]:
    """The elements of an import read as ``ExportedMonitorSerializer`` reads them (API and
    import page alike); the first bad one raises ``ValidationError("monitor <n>: <reason>")``
    with ``n`` counted from 1."""
    definitions = []
    for number, item in enumerate(items, start=1):
        serializer = ExportedMonitorSerializer(data=item)
        if not serializer.is_valid():
            raise serializers.ValidationError(
                f"monitor {number}: {first_message(serializer.errors)}"
            )
        definitions.append(dict(serializer.validated_data))
    return definitions


class CheckSerializer(serializers.Serializer):
    """A one-off check to run (the test action); type may be left out."""

    name = StrictCharField(help_text="Optional; echoed as monitor_name.")
    type = StrictCharField(
        source="kind", help_text="http, tcp, ping or dns; detected from the target when empty."
    )
    target = StrictCharField()
    rule = StrictCharField()
    properties = PropertiesField()

    def validate(self, attrs: dict[str, object]) -> dict[str, object]:
        if not attrs["target"]:
            raise serializers.ValidationError("missing monitor target")
        if not attrs["kind"] and (reason := why_undecided(attrs["target"])) is not None:
            raise serializers.ValidationError(
                f"cannot tell the monitor type from the target: {reason}"
            )
        attrs["kind"], attrs["rule"] = decide_kind(attrs["kind"], attrs["target"], attrs["rule"])
        # The monitor checks minus name and interval, which a one-off check does not need.
        message = definition_errors(
            {**attrs, "name": attrs["name"] or "test", "interval": UNSET_INTERVAL}
        )
        if message is not None:
            raise serializers.ValidationError(message)
        return attrs

    @staticmethod
    def check_request(attrs: Mapping[str, object]) -> CheckRequest:
        return CheckRequest(
            kind=attrs["kind"],
            target=attrs["target"],
            properties=attrs["properties"],
            rule=attrs["rule"],
        )


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {"type": ["number", "string"]},
        "description": "Named outputs of the run (usable in rules); null for Failed runs.",
    }
)
class OutputsField(serializers.JSONField):
    pass


class CheckResultSerializer(serializers.Serializer):
    """The result of a one-off check: a result's fields (not stored), plus the type run."""

    date = serializers.DateTimeField(help_text="When the run started.")
    status = serializers.ChoiceField(choices=Status.choices, help_text=f"{STATUS_HELP}.")
    value = serializers.FloatField()
    message = serializers.CharField()
    monitor_id = serializers.IntegerField(allow_null=True, help_text="null for an ad-hoc check.")
    monitor_name = serializers.CharField()
    monitor_target = serializers.CharField()
    outputs = OutputsField(allow_null=True)
    type = serializers.CharField(help_text="The monitor type that ran.")
