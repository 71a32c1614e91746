"""Typed readers for environment variables that fail loudly on bad values.

Settings read every value through these, so a typo such as ``ALERT_FAIL_COUNT=three`` stops
the process at start with a message naming the variable, instead of surfacing later.
"""

from __future__ import annotations

import os
from pathlib import Path

from lib.durations import parse_duration
from lib.secrets_at_rest import derived_key, parse_keys


class ConfigError(ValueError):
    """An environment variable holds a value its setting cannot use."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def data_dir() -> Path:
    """``NANOMON_DATA_DIR`` (default ``./var`` in the checkout), absolute."""
    default = Path(__file__).resolve().parent.parent / "var"
    return Path(env_str("NANOMON_DATA_DIR", str(default))).resolve()


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def env_int(
    name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        value = default
    else:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name} must be at most {maximum}, got {value}")
    return value


def env_seconds(name: str, default: str, *, allow_zero: bool = False) -> float:
    """A Go-style duration (``30s``, ``1m``, ``500ms``) in seconds; must be positive (or zero
    with ``allow_zero``)."""
    raw = os.environ.get(name) or default
    try:
        seconds = parse_duration(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a duration such as 30s or 1m, got {raw!r}") from None
    if seconds < 0 or (seconds == 0 and not allow_zero):
        least = "zero or more" if allow_zero else "greater than zero"
        raise ConfigError(f"{name} must be {least}, got {raw!r}")
    return seconds


def env_retention(name: str, default: str) -> float:
    """How long to keep data, in seconds; 0 keeps it for ever (gosrvmon's ``Retention``).

    A Go-style duration (``744h``, ``90m``) or whole days with a ``d`` suffix (``31d``);
    ``0`` alone means keep for ever."""
    raw = (os.environ.get(name) or default).strip()
    try:
        if raw.endswith("d") and raw[:-1].isdigit():
            seconds = int(raw[:-1]) * 86400.0
        else:
            seconds = parse_duration(raw)
    except ValueError:
        raise ConfigError(
            f"{name} must be a number of days such as 31d, a duration such as 744h, "
            f"or 0 (keep for ever), got {raw!r}"
        ) from None
    if seconds < 0:
        raise ConfigError(f"{name} must be zero (keep for ever) or more, got {raw!r}")
    return seconds


def env_list(name: str, default: str = "") -> list[str]:
    """A comma-separated list; blanks dropped."""
    raw = os.environ.get(name, default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_secrets_keys(name: str, secret_key: str) -> tuple[tuple[str, ...], bool]:
    """The Fernet keys that seal secrets at rest (``lib.secrets_at_rest``): ``name``'s
    comma-separated keys (the first seals, every one opens), or when it is empty one key
    derived from ``secret_key`` (Django's SECRET_KEY). Returns the keys and whether they are
    the derived one. A key that is not a Fernet key stops the process (named by position)."""
    raw = os.environ.get(name, "")
    if not raw.strip():
        return (derived_key(secret_key),), True
    try:
        return parse_keys(raw), False
    except ValueError as error:
        raise ConfigError(str(error)) from None
