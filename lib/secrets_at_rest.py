"""Secrets at rest: a secret value is stored sealed with Fernet, as ``enc:v1:<token>`` inside the
JSON that holds it (a monitor's secret property, a channel's secret setting), so a sealed
value is recognisable wherever it is seen and a plaintext one is never mistaken for it.

The keys are ``NANOMON_SECRETS_KEY``'s (comma-separated Fernet keys: the first seals, every one
opens, ``MultiFernet``), read by the settings and handed here with ``install`` (Django-free:
the probes open their secret properties where they parse them, ``monitors.probes.base``).
docs/security.md says what happens without the variable and how keys are rotated.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "enc:v1:"
VARIABLE = "NANOMON_SECRETS_KEY"
_DERIVED_INFO = b"nanomon secrets at rest v1"


class SecretsKeyError(Exception):
    """A sealed value no installed key opens (or no key is installed). The text names the
    variable to fix, never the value."""


def parse_keys(text: str) -> tuple[str, ...]:
    """The keys of a ``NANOMON_SECRETS_KEY`` value (blanks dropped), each checked to be a
    Fernet key; ``ValueError`` names the bad one by position, never its text."""
    keys = tuple(item.strip() for item in text.split(",") if item.strip())
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise ValueError(
                f"{VARIABLE}: key {position} is not a Fernet key (32 bytes in URL-safe base64, "
                "44 characters: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())')"
            ) from None
    return keys


def derived_key(secret: str) -> str:
    """A Fernet key derived from ``secret`` (Django's SECRET_KEY) with HKDF-SHA256: the key
    used when ``NANOMON_SECRETS_KEY`` is not set."""
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_DERIVED_INFO).derive(
        secret.encode()
    )
    return base64.urlsafe_b64encode(raw).decode()


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


class Keyring:
    """Sealing with the first key, opening with any."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise SecretsKeyError(f"no secrets key: set {VARIABLE}")
        self.keys = tuple(keys)
        self._fernet = MultiFernet([Fernet(key) for key in self.keys])
        self._first = Fernet(self.keys[0])

    def seal(self, text: str) -> str:
        """``text`` sealed (a sealed value comes back as it is)."""
        if is_sealed(text):
            return text
        return PREFIX + self._fernet.encrypt(text.encode()).decode()

    def open(self, value: str) -> str:
        """The text of a sealed ``value`` (a plaintext one comes back as it is); raises
        ``SecretsKeyError`` when no key opens it."""
        if not is_sealed(value):
            return value
        try:
            return self._fernet.decrypt(value[len(PREFIX) :].encode()).decode()
        except (InvalidToken, UnicodeDecodeError):
            raise SecretsKeyError(
                f"the secret cannot be decrypted: no key in {VARIABLE} opens it"
            ) from None

    def sealed_with_first(self, value: str) -> bool:
        """Whether ``value`` is sealed with the first key (nothing to rotate)."""
        if not is_sealed(value):
            return False
        try:
            self._first.decrypt(value[len(PREFIX) :].encode())
        except InvalidToken:
            return False
        return True

    def reseal(self, value: str) -> str:
        """``value`` sealed with the first key, whichever key sealed it (plaintext: sealed)."""
        return self.seal(self.open(value))


_installed: Keyring | None = None


def install(keys: Sequence[str]) -> None:
    """Use ``keys`` from now on (the settings' ``NANOMON_SECRETS_KEYS``; again when a test
    overrides them). No keys: every seal and open raises ``SecretsKeyError``."""
    global _installed
    _installed = Keyring(keys) if keys else None


def keyring() -> Keyring:
    if _installed is None:
        raise SecretsKeyError(f"no secrets key: set {VARIABLE}")
    return _installed


def seal(text: str) -> str:
    return keyring().seal(text)


def open_sealed(value: str) -> str:
    """``Keyring.open`` with the installed keys (a plaintext value comes back unchanged)."""
    if not is_sealed(value):
        return value
    return keyring().open(value)
