"""The one check every entry point (API, admin, forms, import) runs on a monitor definition.

Order and messages follow NanoMon's contract (first failure wins): name, type, known type,
interval present, target present, interval parses, interval >= 1s, rule parses; then this
project's improvements: the rule uses only outputs of the type and can give a bool, the
properties per type (a ``timeout`` that is set must be below the interval: ``deadline_problem``),
and the target's shape for the type.

NanoMon accepted any target and failed every run instead (a tcp monitor on ``example.net``);
here such a monitor is refused when it is saved, naming the target and the shape expected
(``invalid monitor target: missing port: use host:port (target 'example.net'; expected
host:port or [IPv6 address]:port)``). Likewise a rule naming no output of the type
(``stauts == 200``) or one that can never give a bool (``status + 1``) is refused rather than
failing every run.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import ValidationError

from lib.durations import format_seconds, parse_duration
from monitors.probes import REGISTRY
from monitors.probes.base import ProbeType, PropertyError
from monitors.rules import Rule, RuleError, compile_rule
from monitors.rules.static import BOOL, describe_kinds, result_kinds

MIN_INTERVAL_SECONDS = 1.0
MAX_INTERVAL_SECONDS = 30 * 24 * 3600.0
# The interval to check a definition with when it has none (a one-off check) or when one
# field is checked alone: the longest, which no run's deadline (at most 1h) can outlast.
UNSET_INTERVAL = "720h"


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
    probe_type = REGISTRY[kind]
    if rule:
        problem = rule_problem(rule, probe_type)
        if problem is not None:
            fail("rule", problem)
    if properties is None:
        properties = {}
    if not isinstance(properties, Mapping):
        fail("properties", "properties must be an object of strings")
    for key, value in properties.items():
        if not isinstance(value, str):
            fail("properties", f"property '{key}': value must be a string")
    try:
        parsed = probe_type.parse_properties(properties)
    except PropertyError as error:
        fail("properties", str(error))
    problem = deadline_problem(probe_type, properties, parsed, interval, seconds)
    if problem is not None:
        fail("properties", problem)
    problem = target_problem(probe_type, target, parsed)
    if problem is not None:
        fail("target", problem)


# The properties a run's deadline is made of: ``timeout``, and for ping ``count`` and
# ``interval`` too ((count - 1) × interval + timeout).
DEADLINE_PROPERTIES = ("timeout", "count", "interval")


def deadline_problem(
    probe_type: ProbeType,
    given: Mapping[str, object],
    parsed: Mapping[str, object],
    interval: str,
    interval_seconds: float,
) -> str | None:
    """Why the properties given let one run outlast the monitor's interval, or None.

    Checked when the definition sets one of ``DEADLINE_PROPERTIES``: a run must end before
    the next one is due. Defaults are not held to it, so every monitor NanoMon's contract
    accepts stays valid (an http monitor every 1s with its default 5s timeout); a run that
    does outlast its interval skips the slots it held its monitor past, and those are counted
    (``monitors.scheduling.latest_due_slot``, ``nanomon_schedule_slots_skipped_total``).
    """
    if not any(given.get(name) for name in DEADLINE_PROPERTIES):
        return None
    deadline = probe_type.deadline(parsed)
    if deadline < interval_seconds:
        return None
    if deadline == parsed.get("timeout"):
        return (
            f"property 'timeout': must be less than the monitor interval ({interval}), "
            f"got {given.get('timeout') or format_seconds(deadline)}"
        )
    return (
        f"property 'timeout': a run may take up to {format_seconds(deadline)} "
        f"((count - 1) × interval + timeout), which must be less than the monitor interval "
        f"({interval})"
    )


def rule_problem(text: str, probe_type: ProbeType) -> str | None:
    """Why ``text`` cannot be the rule of a ``probe_type`` monitor (``rule invalid: …``), or
    None: it does not parse, names a variable that is no output of the type, or can never
    give a bool."""
    try:
        rule = compile_rule(text)
    except RuleError as error:
        return f"rule invalid: {error}"
    return rule_outputs_problem(rule, probe_type)


def rule_outputs_problem(rule: Rule, probe_type: ProbeType) -> str | None:
    """The part of ``rule_problem`` after parsing: unknown outputs, then a non-bool result."""
    unknown = sorted(name for name in rule.variables if probe_type.output(name) is None)
    if unknown:
        names = ", ".join(f"'{name}'" for name in unknown)
        verb = "is not an output" if len(unknown) == 1 else "are not outputs"
        return (
            f"rule invalid: {names} {verb} of type {probe_type.kind}; "
            f"its outputs are {probe_type.output_names()}"
        )

    def output_kinds(name: str) -> frozenset[str]:
        return frozenset({probe_type.output(name).kind})

    kinds = result_kinds(rule.expression, output_kinds)
    if BOOL not in kinds:
        return (
            f"rule invalid: the rule gives {describe_kinds(kinds)}, never true or false: "
            f"write a comparison, e.g. {_example_rule(probe_type)}"
        )
    return None


def _example_rule(probe_type: ProbeType) -> str:
    for spec in probe_type.outputs:
        if spec.kind == "number":
            return f"{spec.name} < 500"
    return f"{probe_type.outputs[0].name} == 'x'"


def target_problem(
    probe_type: ProbeType, target: str, properties: Mapping[str, object] | None = None
) -> str | None:
    """Why ``target`` cannot be probed as ``probe_type`` (``invalid monitor target: …``,
    naming the target and the shape expected), or None. ``properties`` (parsed) adds the
    type's checks of the target against them (dns: an address only with type PTR)."""
    try:
        probe_type.check_target(target)
        if properties is not None and probe_type.check_target_properties is not None:
            probe_type.check_target_properties(target, properties)
    except ValueError as error:
        reason = str(error)
        shown = repr(target if len(target) <= 80 else target[:79] + "…")
        named = "" if shown in reason else f"target {shown}; "
        return (
            f"invalid monitor target: {reason} "
            f"({named}expected {probe_type.target_shape or probe_type.target_help})"
        )
    return None
