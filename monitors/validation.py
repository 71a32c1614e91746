"""The one check every entry point (API, admin, forms, import) runs on a monitor definition.

Order and messages follow NanoMon's contract (first failure wins): name, type, known type,
interval present, target present, interval parses, interval >= 1s, rule parses; then this
project's improvement: the properties per type.

A target's shape (``host:port`` for tcp, a URL for http) is NOT checked on save: NanoMon
accepts any target and fails the run instead, and its own API suite relies on that (a tcp
monitor on ``example.net``). Such a monitor's runs fail with ``invalid target: …``. One-off
checks, which run at once, use ``check_target_shape`` to refuse it up front.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from monitors.durations import parse_duration
from monitors.probes import REGISTRY
from monitors.probes.base import PropertyError
from monitors.rules import RuleError, compile_rule

MIN_INTERVAL_SECONDS = 1.0
MAX_INTERVAL_SECONDS = 30 * 24 * 3600.0


def check_monitor_definition(
    *,
    name: str,
    kind: str,
    interval: str,
    target: str,
    rule: str,
    properties: Mapping[str, object] | None,
) -> None:
    """Raise ``ValidationError({field: message})`` for the first problem, in contract order."""

    def fail(field: str, message: str) -> None:
        raise ValidationError({field: message}, code="invalid")

    if not name:
        fail("name", "missing monitor name")
    if not kind:
        fail("kind", "missing monitor type")
    if kind not in REGISTRY:
        fail("kind", "invalid monitor type")
    if not interval:
        fail("interval", "missing monitor interval")
    if not target:
        fail("target", "missing monitor target")
    try:
        seconds = parse_duration(interval)
    except ValueError:
        fail("interval", "invalid monitor interval")
    if seconds < MIN_INTERVAL_SECONDS:
        fail("interval", "monitor interval must be greater than 1s")
    if seconds > MAX_INTERVAL_SECONDS:
        fail("interval", "monitor interval must be at most 720h")
    if rule:
        try:
            compile_rule(rule)
        except RuleError as error:
            fail("rule", f"rule invalid: {error}")
    probe_type = REGISTRY[kind]
    if properties is None:
        properties = {}
    if not isinstance(properties, Mapping):
        fail("properties", "properties must be an object of strings")
    for key, value in properties.items():
        if not isinstance(value, str):
            fail("properties", f"property '{key}': value must be a string")
    try:
        probe_type.parse_properties(properties)
    except PropertyError as error:
        fail("properties", str(error))


def check_target_shape(*, kind: str, target: str) -> None:
    """Raise ``ValidationError({"target": …})`` when ``target`` cannot be probed as ``kind``."""
    try:
        REGISTRY[kind].check_target(target)
    except ValueError as error:
        raise ValidationError(
            {"target": f"invalid monitor target: {error}"}, code="invalid"
        ) from None


def first_error_message(error: ValidationError) -> str:
    """The first message of ``error``, named by its field (``kind`` is the API's ``type``)
    unless it is a non-field error: ``interval: …``, or the message alone."""
    if hasattr(error, "error_dict"):
        field, messages = next(iter(error.message_dict.items()))
        if field == NON_FIELD_ERRORS:
            return messages[0]
        return f"{'type' if field == 'kind' else field}: {messages[0]}"
    return error.messages[0] if error.messages else "invalid request"
