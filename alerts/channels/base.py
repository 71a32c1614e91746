"""The vocabulary every transport speaks: an ``AlertMessage`` in, a sent message or a
``DeliveryError`` out, and declared config fields (with which ones are secret).

A transport knows nothing about the ORM: it gets a plain config mapping and a plain message.
Each kind's module declares one ``Transport`` subclass; the registry in ``alerts.channels``
maps the kind to it. Forms, the admin and the API read the field declarations, so a setting
is described in exactly one place.
"""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ClassVar, Literal
from urllib.parse import parse_qsl, urlsplit

from django.core.exceptions import ValidationError

from lib.formatting import format_value
from lib.secrets_at_rest import SecretsKeyError, is_sealed, open_sealed, seal
from monitors.secrets import MASK

FieldType = Literal[
    "text", "password", "int", "bool", "choice", "list", "headers", "url", "template"
]


class DeliveryError(Exception):
    """A notification could not be delivered; the text is short, human and holds no secret."""


@dataclass(frozen=True)
class ConfigField:
    """One setting of a channel kind. ``secret`` values are never shown back in full."""

    name: str
    label: str
    type: FieldType
    help: str = ""
    required: bool = False
    default: object = None
    choices: tuple[str, ...] = ()
    secret: bool = False
    minimum: int | None = None
    maximum: int | None = None
    # A further check of a set value (message templates): raises ValueError saying why.
    check: Callable[[object], None] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class AlertMessage:
    """Everything a notification says, as plain data (built by ``alerts.messages``).

    ``event`` is ``down``, ``up``, ``reminder`` or ``test``; ``properties`` are already masked;
    ``happened_at`` is UTC; ``value`` is the run's value (usually ms, None for tests).
    """

    event: str
    notification_id: int
    monitor_id: int | None
    monitor_name: str
    kind: str
    target: str
    interval: str
    rule: str
    properties: Mapping[str, object]
    failures: int
    reason: str
    happened_at: datetime
    value: float | None
    link: str
    reminder_number: int = 0
    outage_started_at: datetime | None = None
    # What was seen (down, reminder): the run's status word and the outputs its rule used.
    status_text: str = ""
    rule_outputs: Mapping[str, object] = field(default_factory=dict)
    # Up: how long the outage lasted (``2 h 5 min``).
    outage_duration_text: str = ""

    @property
    def state(self) -> str:
        """``down`` (for down and reminder), ``up``, or ``test``."""
        return {"down": "down", "reminder": "down", "up": "up"}.get(self.event, "test")

    @property
    def subject(self) -> str:
        """One line: NanoMon's subject on down, a recovery line on up. No CR/LF ever."""
        name = " ".join(self.monitor_name.splitlines())
        subjects = {
            "down": f"NanoMon alert for: {name}",
            "reminder": f"NanoMon alert for: {name} (still down)",
            "up": f"NanoMon recovered: {name}",
        }
        return subjects.get(self.event, "NanoMon test notification")

    @property
    def summary(self) -> str:
        """A sentence for chat-style channels (Apprise, the webhook's default payload)."""
        if self.event == "down":
            return (
                f"{self.monitor_name} is DOWN: {self.failures} failed runs in a row. "
                f"Reason: {self.reason or 'none given'}"
            )
        if self.event == "reminder":
            return (
                f"{self.monitor_name} is still DOWN (reminder {self.reminder_number}): "
                f"{self.failures} failed runs in a row. Reason: {self.reason or 'none given'}"
            )
        if self.event == "up":
            return f"{self.monitor_name} is UP again."
        return "This is a test notification from NanoMon: this channel works."

    @property
    def happened_at_text(self) -> str:
        """``2026-11-21 12:00:00 UTC``."""
        return utc_text(self.happened_at)

    @property
    def outage_started_at_text(self) -> str:
        return utc_text(self.outage_started_at) if self.outage_started_at else ""

    @property
    def value_text(self) -> str:
        """``12.3 ms``: the one number format (``lib.formatting``); every type measures ms."""
        return "" if self.value is None else format_value(self.value, "ms")


def utc_text(moment: datetime) -> str:
    """``2026-11-21 12:00:00 UTC``."""
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


class Transport:
    """One kind of channel. Subclasses declare ``kind``, ``label``, ``fields`` and ``send``.

    Build one per delivery with the channel's full config: ``Transport(config).send(message,
    timeout=...)``. ``send`` raises ``DeliveryError`` with a short message on failure and must
    never take longer than about ``timeout`` per network step.
    """

    kind: ClassVar[str]
    label: ClassVar[str]
    fields: ClassVar[tuple[ConfigField, ...]]

    def __init__(self, config: Mapping[str, object]) -> None:
        self.config = config

    def send(self, message: AlertMessage, *, timeout: float) -> None:
        raise NotImplementedError

    # --- Declarations at work: validation, masking --------------------------------------------

    @classmethod
    def clean_config(
        cls, raw: Mapping[str, object], *, current: Mapping[str, object] | None = None
    ) -> dict[str, object]:
        """Validate and normalise ``raw`` into a config; unknown keys are dropped.

        A secret field left blank (or sent back masked) keeps its ``current`` value, so a
        form or an API client that never saw the secret can still change the other fields.
        Raises ``ValidationError`` with a message per field name.
        """
        errors: dict[str, str] = {}
        config: dict[str, object] = {}
        for spec in cls.fields:
            value = raw.get(spec.name)
            if spec.secret and current and _blank_or_masked(value) and spec.name in current:
                value = current[spec.name]
            try:
                if spec.secret and is_sealed(value):
                    value = _opened(value)
                converted = _convert(spec, value)
                if spec.check is not None and converted not in (None, ""):
                    spec.check(converted)
            except ValueError as error:
                errors[spec.name] = str(error)
                continue
            if spec.required and converted in (None, "", [], {}):
                errors[spec.name] = f"{spec.label} is required"
                continue
            config[spec.name] = converted
        if not errors:
            errors.update(cls.check_config(config))
        if errors:
            raise ValidationError(errors)
        return config

    @classmethod
    def check_config(cls, config: Mapping[str, object]) -> dict[str, str]:
        """Checks across fields or beyond types; returns errors by field name."""
        return {}

    @classmethod
    def sealed_config(cls, config: Mapping[str, object]) -> dict[str, object]:
        """A copy of ``config`` as stored: each secret value (a string, list or object) sealed
        as one ``enc:v1:…`` string of its JSON (lib.secrets_at_rest; a sealed one stays)."""
        sealed = dict(config)
        for spec in cls.fields:
            value = sealed.get(spec.name)
            if spec.secret and value not in (None, "", [], {}) and not is_sealed(value):
                sealed[spec.name] = seal(json.dumps(value, ensure_ascii=False))
        return sealed

    @classmethod
    def opened_config(cls, config: Mapping[str, object]) -> dict[str, object]:
        """A copy of ``config`` with its sealed secrets opened: for the sender only (and for
        masking). Raises ``SecretsKeyError`` when no key opens one."""
        opened = dict(config)
        for spec in cls.fields:
            if spec.secret and is_sealed(opened.get(spec.name)):
                opened[spec.name] = json.loads(open_sealed(opened[spec.name]))
        return opened

    @classmethod
    def mask_config(cls, config: Mapping[str, object]) -> dict[str, object]:
        """A copy of ``config`` safe to show to anyone: secret values masked."""
        masked = dict(config)
        for spec in cls.fields:
            if spec.secret and spec.name in masked:
                masked[spec.name] = mask_value(spec, masked[spec.name])
        return masked

    @classmethod
    def secret_values(cls, config: Mapping[str, object]) -> list[str]:
        """Every secret string in ``config`` (to scrub error texts before they are stored)."""
        found: list[str] = []
        for spec in cls.fields:
            value = config.get(spec.name)
            if not spec.secret or not value:
                continue
            if isinstance(value, str):
                found.append(value)
                found.extend(_url_secrets(value) if spec.type == "url" else [])
            elif isinstance(value, list):
                for item in value:
                    found.append(str(item))
                    found.extend(_url_secrets(str(item)))
            elif isinstance(value, dict):
                found.extend(str(item) for item in value.values())
        return [value for value in found if len(value) >= 4]

    @classmethod
    def summary(cls, config: Mapping[str, object]) -> str:
        """A short description for lists; never holds a secret."""
        return cls.label


# --- Helpers shared by the transports ----------------------------------------------------------


def mask_value(spec: ConfigField, value: object) -> object:
    if value in (None, "", [], {}):
        return value
    if is_sealed(value):  # opened to keep what the mask shows (a URL's host, header names)
        try:
            value = json.loads(open_sealed(value))
        except (SecretsKeyError, ValueError):
            return MASK
    if spec.type == "url" and isinstance(value, str):
        return mask_url(value)
    if spec.type == "list" and isinstance(value, list):
        return [mask_url(str(item)) for item in value]
    if spec.type == "headers" and isinstance(value, dict):
        return dict.fromkeys(value, MASK)
    return MASK


def mask_url(url: str) -> str:
    """``https://hooks.example.com/••••••``: scheme and host stay, credentials and path go;
    other schemes (Apprise's ``slack://``…) keep only the scheme."""
    scheme, separator, _ = url.partition("://")
    if not separator or not scheme:
        return MASK
    if scheme not in {"http", "https"}:
        return f"{scheme}://{MASK}"
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return f"{scheme}://{MASK}"
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port else host
    hidden = parts.path not in ("", "/") or parts.query or parts.username or parts.fragment
    return f"{scheme}://{netloc}/{MASK}" if hidden else f"{scheme}://{netloc}/"


def scrub(text: str, secrets: list[str]) -> str:
    """``text`` with every secret replaced by the mask (longest first)."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def timed_out(timeout: float) -> str:
    """``timed out after 10s``: the one wording of a delivery timeout, for every transport."""
    return f"timed out after {timeout:g}s"


def describe_network_error(error: BaseException, *, timeout: float) -> str:
    """A short message for a low-level network error (never quotes a URL)."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS certificate verification failed: {error.verify_message or error.reason}"
    if isinstance(error, ssl.SSLError):
        return f"TLS error: {error.reason or error.__class__.__name__}"
    if isinstance(error, TimeoutError | socket.timeout):
        return timed_out(timeout)
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, ConnectionResetError):
        return "connection reset"
    if isinstance(error, socket.gaierror):
        return "could not resolve host"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    return error.__class__.__name__


def _opened(value: str) -> object:
    """A sealed secret's value; a ``ValueError`` (a field's error) when no key opens it."""
    try:
        return json.loads(open_sealed(value))
    except SecretsKeyError as error:
        raise ValueError(f"{error} (give it again)") from None


def _blank_or_masked(value: object) -> bool:
    if value in (None, "", [], {}):
        return True
    if isinstance(value, str):
        return MASK in value
    if isinstance(value, list):
        return any(MASK in str(item) for item in value)
    if isinstance(value, dict):
        return any(item == MASK for item in value.values())
    return False


def _url_secrets(url: str) -> list[str]:
    """The parts of a URL that may be credentials: user info, path and query."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found = [parts.username or "", parts.password or "", parts.query]
    found += [value for _, value in parse_qsl(parts.query)]
    found += [segment for segment in parts.path.split("/") if len(segment) >= 8]
    return [item for item in found if item]


def _convert(spec: ConfigField, value: object) -> object:
    """``value`` as the field's type; raises ValueError with a short reason."""
    if value is None or value == "":
        if spec.default is not None:
            return spec.default
        return {"list": [], "headers": {}, "bool": False}.get(spec.type, "")
    if spec.type in {"text", "url", "choice"}:
        if not isinstance(value, str):
            raise ValueError(f"{spec.label} must be a string")
        value = value.strip()
        if spec.choices and value not in spec.choices:
            raise ValueError(f"{spec.label} must be one of {', '.join(spec.choices)}")
        return value
    if spec.type in {"password", "template"}:
        if not isinstance(value, str):
            raise ValueError(f"{spec.label} must be a string")
        return value
    if spec.type == "int":
        return _convert_int(spec, value)
    if spec.type == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in {"true", "false", "1", "0"}:
            return value.strip().lower() in {"true", "1"}
        raise ValueError(f"{spec.label} must be true or false")
    if spec.type == "list":
        items = value.replace(",", "\n").splitlines() if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
            raise ValueError(f"{spec.label} must be a list of strings")
        return [item.strip() for item in items if item.strip()]
    if spec.type == "headers":
        return _convert_headers(spec, value)
    raise ValueError(f"{spec.label}: unknown field type {spec.type}")


def _convert_int(spec: ConfigField, value: object) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{spec.label} must be a whole number")
    try:
        number = int(str(value).strip()) if isinstance(value, str) else value
    except ValueError:
        raise ValueError(f"{spec.label} must be a whole number") from None
    if not isinstance(number, int):
        raise ValueError(f"{spec.label} must be a whole number")
    if spec.minimum is not None and number < spec.minimum:
        raise ValueError(f"{spec.label} must be at least {spec.minimum}")
    if spec.maximum is not None and number > spec.maximum:
        raise ValueError(f"{spec.label} must be at most {spec.maximum}")
    return number


def _convert_headers(spec: ConfigField, value: object) -> dict[str, str]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError(f"{spec.label} must be a JSON object of strings") from None
    if not isinstance(value, dict) or not all(
        isinstance(key, str) and isinstance(item, str) for key, item in value.items()
    ):
        raise ValueError(f"{spec.label} must be a JSON object of strings")
    for key, item in value.items():
        if not key.strip() or any(char in key + item for char in "\r\n"):
            raise ValueError(f"{spec.label}: header names and values must be single lines")
    return {key.strip(): item for key, item in value.items()}
