"""The plain-data vocabulary every probe speaks: declarations in, a ProbeResult out.

Probes know nothing about Django or the ORM. Each probe module declares one ``ProbeType``
(its properties with defaults and parsers, its outputs, a target check and the coroutine that
probes); the registry in ``monitors.probes`` maps the kind to it. The API, the forms, the docs
and the engine all read these declarations, so a property is described in exactly one place.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, TypedDict

from lib.durations import format_seconds, parse_duration
from lib.secrets_at_rest import SecretsKeyError, is_sealed, open_sealed

OutputValue = float | str


class ProbeFailure(Exception):
    """Raised inside a probe for an expected failure; its text is the result's message.

    Keep messages short and human: ``connection refused``, ``could not resolve host``,
    ``timed out after 5s``.
    """


class PropertyError(ValueError):
    """A property name or value that a probe type does not accept. The text names it."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"property '{name}': {message}")
        self.name = name


@dataclass(frozen=True)
class PropertySpec:
    """One property a probe type accepts. Values arrive as strings (the contract)."""

    name: str
    help: str
    default: str | None = None  # None: optional with no default (absent means "not set")
    parse: Callable[[str], object] = str  # raises ValueError with a short reason
    choices: tuple[str, ...] = ()
    # May hold credentials: masked for users who may not change it, and stored sealed
    # (``enc:v1:…``, lib.secrets_at_rest), opened only by ``convert`` (the probe's parse).
    secret: bool = False
    required: bool = False  # refused when absent or empty (``property 'query': is required``)

    def convert(self, raw: str) -> object:
        if not isinstance(raw, str):
            raise PropertyError(self.name, "value must be a string")
        if self.secret and is_sealed(raw):
            try:
                raw = open_sealed(raw)
            except SecretsKeyError as error:
                raise PropertyError(self.name, str(error)) from None
        if self.choices and raw not in self.choices:
            raise PropertyError(self.name, f"must be one of {', '.join(self.choices)}, got {raw!r}")
        try:
            return self.parse(raw)
        except ValueError as error:
            raise PropertyError(self.name, str(error)) from None


@dataclass(frozen=True)
class OutputSpec:
    """One output a probe type produces (usable in rules, shown in the UI).

    ``numbered``: the output is the first of a series named like it with any number in place
    of its final ``1`` (dns's ``result1``, ``result2``, …). ``unit``: how a number is written
    for people (``ms``, ``B``, ``days``, ``%``; empty for a bare count or code), read by
    ``lib.formatting.format_value`` on every page.
    """

    name: str
    kind: Literal["number", "string"]
    help: str
    numbered: bool = False
    unit: str = ""

    def names(self, name: str) -> bool:
        """Whether ``name`` is this output (or, for a numbered one, one of its series)."""
        if name == self.name:
            return True
        if not (self.numbered and self.name.endswith("1")):
            return False
        stem = self.name[:-1]
        return name.startswith(stem) and _SERIAL_NUMBER.fullmatch(name[len(stem) :]) is not None


_SERIAL_NUMBER = re.compile(r"[1-9][0-9]*")


@dataclass(frozen=True)
class ProbeResult:
    """What a probe measured: a value (usually ms) and named outputs.

    ``outputs`` may hold values that are used by the rule but never stored
    (see ``ProbeType.transient_outputs``, e.g. the HTTP body).
    """

    value: float
    outputs: dict[str, OutputValue] = field(default_factory=dict)
    # What a remembering probe (``ProbeType.remembers``) keeps for its next run (a traced
    # route, a pinned host key, a log file's offset); None keeps what was remembered.
    memory: dict[str, object] | None = None


@dataclass(frozen=True)
class PassiveSchedule:
    """How a passive type's deadlines fall, from the monitor's interval (seconds) and its
    parsed properties: ``deadline_after(moment, …)`` is when a ping expected after ``moment``
    (a ping, a save, or the expected time of a missed one) is late; ``expected(deadline, …)``
    the expected time a deadline was for; ``missed_message(interval as written, …)`` the
    message of the Failed run recorded at a deadline."""

    deadline_after: Callable[[datetime, float, Mapping[str, object]], datetime]
    expected: Callable[[datetime, Mapping[str, object]], datetime]
    missed_message: Callable[[str, Mapping[str, object]], str]


ProbeCoroutine = Callable[[str, Mapping[str, object]], Awaitable[ProbeResult]]


class MonitorTemplate(TypedDict):
    """A starting point for a new monitor of a type: the new-monitor page offers one per type,
    with sensible defaults and rule examples."""

    title: str  # what the page's choice says ("Website or HTTP API")
    name: str
    target: str  # a valid target of the type
    interval: str
    rule: str
    properties: dict[str, str]
    rule_examples: tuple[str, ...]


@dataclass(frozen=True)
class ProbeType:
    """Everything the rest of the system knows about one monitor type.

    ``label`` names the type where it is chosen (forms, filters, the docs); ``short_label`` in
    lists, the admin and the model's choices (``Monitor.Kind``).
    """

    kind: str
    label: str
    short_label: str
    target_help: str
    properties: tuple[PropertySpec, ...]
    outputs: tuple[OutputSpec, ...]
    check_target: Callable[[str], None]  # raises ValueError with a short reason
    probe: ProbeCoroutine  # probe(target, parsed_properties) -> ProbeResult | raises ProbeFailure
    template: MonitorTemplate
    transient_outputs: frozenset[str] = frozenset()  # used by rules, never stored
    # Total seconds from the parsed properties when it is not simply ``timeout`` (ping).
    deadline_for: Callable[[Mapping[str, object]], float] | None = None
    # The shape a target must have, as said when one is refused ("host:port or [IPv6]:port").
    target_shape: str = ""
    # A check of the target against the parsed properties, after ``check_target`` passed
    # (dns: an IP address is looked up only with type PTR); raises ValueError with a reason.
    check_target_properties: Callable[[str, Mapping[str, object]], None] | None = None
    # The unit of a run's value (the number charts draw and rules call the value).
    value_unit: str = "ms"
    # A remembering probe is called probe(target, parsed_properties, memory): ``memory`` is
    # what its last run's ``ProbeResult.memory`` kept for this monitor ({} at first), stored
    # in the monitor's state by the loop (a Failed run keeps the memory as it was).
    remembers: bool = False
    # A passive type (push) is never probed: its schedule holds deadlines, and the run the
    # loop records at one is Failed (``PassiveSchedule``).
    passive: PassiveSchedule | None = None

    def output(self, name: str) -> OutputSpec | None:
        """The declared output ``name`` refers to (``result7`` → dns's ``result1``), or None."""
        for spec in self.outputs:
            if spec.names(name):
                return spec
        return None

    def output_names(self) -> str:
        """The outputs a rule may use, for messages: ``respTime, resultCount, result1, …``."""
        return ", ".join(
            f"{spec.name}, {spec.name[:-1]}2, …" if spec.numbered else spec.name
            for spec in self.outputs
        )

    def property(self, name: str) -> PropertySpec:
        for spec in self.properties:
            if spec.name == name:
                return spec
        raise PropertyError(name, f"unknown property for type {self.kind}")

    def parse_properties(self, raw: Mapping[str, str]) -> dict[str, object]:
        """Validate raw string properties and return parsed values with defaults filled in.

        Raises ``PropertyError`` naming the first unknown property or bad value (in the
        declaration order, then unknown names in sorted order, so the message is stable).
        """
        known = {spec.name for spec in self.properties}
        for name in sorted(raw):
            if name not in known:
                raise PropertyError(name, f"unknown property for type {self.kind}")
        parsed: dict[str, object] = {}
        for spec in self.properties:
            if name_value := raw.get(spec.name):
                parsed[spec.name] = spec.convert(name_value)
            elif spec.required:
                raise PropertyError(spec.name, "is required")
            elif spec.default is not None:
                parsed[spec.name] = spec.convert(spec.default)
            else:
                parsed[spec.name] = None
        return parsed

    def deadline(self, parsed: Mapping[str, object]) -> float:
        """Seconds the whole probe may take: ``deadline_for(parsed)`` if declared, else its
        ``timeout`` property."""
        if self.deadline_for is not None:
            return self.deadline_for(parsed)
        return float(parsed["timeout"])


# Parsers shared by several probe types. Each raises ValueError with a short reason.


def parse_timeout(text: str) -> float:
    """A positive Go duration, at most one hour (``500ms``, ``5s``); a bare number is refused."""
    try:
        seconds = parse_duration(text)
    except ValueError:
        raise ValueError(f"must be a duration such as 500ms or 5s, got {text!r}") from None
    if seconds <= 0:
        raise ValueError("must be greater than zero")
    if seconds > 3600:
        raise ValueError(f"must be at most 1h, got {format_seconds(seconds)}")
    return seconds


def parse_bool(text: str) -> bool:
    """``true``/``false`` (any case), also ``1``/``0``, ``yes``/``no``, as Go's ParseBool-ish."""
    lowered = text.strip().lower()
    if lowered in {"true", "1", "yes", "on", "t"}:
        return True
    if lowered in {"false", "0", "no", "off", "f"}:
        return False
    raise ValueError(f"must be true or false, got {text!r}")


def int_parser(minimum: int, maximum: int) -> Callable[[str], int]:
    """A parser for a whole number within [minimum, maximum]."""

    def parse(text: str) -> int:
        try:
            number = int(text.strip())
        except ValueError:
            raise ValueError(f"must be a whole number, got {text!r}") from None
        if not minimum <= number <= maximum:
            raise ValueError(f"must be between {minimum} and {maximum}, got {number}")
        return number

    return parse


def describe_send_error(error: OSError, sending: str) -> str:
    """A send that the network refused: no route by its name, anything else as
    ``cannot send <sending>: <error>``."""
    if error.errno == errno.ENETUNREACH:
        return "network unreachable"
    if error.errno == errno.EHOSTUNREACH:
        return "host unreachable"
    return f"cannot send {sending}: {describe_error(error)}"


def describe_error(error: BaseException) -> str:
    """Fallback short message for an unexpected exception inside a probe."""
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__
