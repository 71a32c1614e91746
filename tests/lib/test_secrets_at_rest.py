"""lib.secrets_at_rest: sealing with the first key, opening with any, the ``enc:v1:`` form,
keys checked without showing them, and the key derived from SECRET_KEY."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from lib.secrets_at_rest import (
    PREFIX,
    Keyring,
    SecretsKeyError,
    derived_key,
    is_sealed,
    parse_keys,
)
from nanomon.env import ConfigError, env_secrets_keys

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def test_a_sealed_value_is_recognisable_and_opens_with_any_key_of_the_ring():
    sealed = Keyring([OLD]).seal("Bearer t0ken")

    assert sealed.startswith(PREFIX)
    assert "t0ken" not in sealed
    assert is_sealed(sealed)
    assert not is_sealed("Bearer t0ken")
    assert not is_sealed(None)
    assert Keyring([NEW, OLD]).open(sealed) == "Bearer t0ken"
    assert Keyring([OLD]).seal(sealed) == sealed  # never sealed twice
    assert Keyring([OLD]).open("plain text") == "plain text"


def test_reseal_moves_a_value_to_the_first_key():
    ring = Keyring([NEW, OLD])
    sealed = Keyring([OLD]).seal("pw")

    assert not ring.sealed_with_first(sealed)
    moved = ring.reseal(sealed)

    assert ring.sealed_with_first(moved)
    assert Keyring([NEW]).open(moved) == "pw"


def test_no_key_that_opens_it_is_an_error_naming_the_variable_not_the_value():
    sealed = Keyring([OLD]).seal("pw")

    with pytest.raises(SecretsKeyError) as error:
        Keyring([NEW]).open(sealed)
    assert str(error.value) == (
        "the secret cannot be decrypted: no key in NANOMON_SECRETS_KEY opens it"
    )
    with pytest.raises(SecretsKeyError):
        Keyring([NEW]).open(PREFIX + "not-a-token")
    with pytest.raises(SecretsKeyError, match="no secrets key: set NANOMON_SECRETS_KEY"):
        Keyring([])


def test_keys_are_checked_and_named_by_position():
    assert parse_keys(f" {NEW} , ,{OLD}") == (NEW, OLD)
    with pytest.raises(ValueError, match="key 2 is not a Fernet key") as error:
        parse_keys(f"{NEW},not-a-key-value")
    assert "not-a-key-value" not in str(error.value)


def test_the_variable_or_a_key_derived_from_the_secret_key(monkeypatch):
    monkeypatch.delenv("NANOMON_SECRETS_KEY", raising=False)
    keys, derived = env_secrets_keys("NANOMON_SECRETS_KEY", "django-secret")
    assert (keys, derived) == ((derived_key("django-secret"),), True)
    assert derived_key("django-secret") != derived_key("another")
    Fernet(keys[0])  # a usable key

    monkeypatch.setenv("NANOMON_SECRETS_KEY", f"{NEW},{OLD}")
    assert env_secrets_keys("NANOMON_SECRETS_KEY", "django-secret") == ((NEW, OLD), False)

    monkeypatch.setenv("NANOMON_SECRETS_KEY", "short")
    with pytest.raises(ConfigError, match="NANOMON_SECRETS_KEY: key 1 is not a Fernet key"):
        env_secrets_keys("NANOMON_SECRETS_KEY", "django-secret")
