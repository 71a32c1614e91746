"""The provider's signing keys (JWKS), cached per process.

- Fetched on first use and again once they are ``OIDC_JWKS_CACHE`` old (default 1 h); a failed
  refetch keeps the keys already known.
- A token signed with a key id the cache does not know triggers one refetch (the provider
  rotated its keys), but at most one fetch per ``OIDC_JWKS_MIN_REFRESH`` (default 30 s): made-up
  key ids cannot make NanoMon hammer the provider.
- Encryption keys (``"use": "enc"``) and keys PyJWT cannot load are skipped.
"""

from __future__ import annotations

import logging
import threading
from time import monotonic

import jwt
from django.conf import settings

from accounts.providers import ProviderUnavailable, fetch_json

logger = logging.getLogger(__name__)

# Which key type signs with which algorithm family.
KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}


class UnknownKey(Exception):
    """No signing key of the provider matches the token's key id and algorithm."""


class KeySet:
    """The signing keys served at one JWKS URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.Lock()
        # (kid, the key's declared "alg" or None, the key)
        self._keys: list[tuple[str | None, str | None, jwt.PyJWK]] | None = None
        self._loaded_at = 0.0
        self._refreshed_at: float | None = None  # last refetch for an unknown key id
        self._failed_at: float | None = None  # last failed fetch

    def key_for(self, kid: str | None, algorithm: str) -> jwt.PyJWK:
        """The key that signed a token with header ``kid`` and ``alg``.

        Raises ``UnknownKey``, or ``ProviderUnavailable`` when no key was ever read.
        """
        with self._lock:
            now = monotonic()
            loaded = False
            if self._keys is None or now - self._loaded_at >= settings.OIDC_JWKS_CACHE_TTL:
                loaded = self._load(now)
            key = self._match(kid, algorithm)
            if key is None and not loaded and self._may_refresh(now):
                logger.info("unknown signing key id %r: refetching %s", kid, self.url)
                self._refreshed_at = now
                self._load(now)
                key = self._match(kid, algorithm)
        if key is None:
            raise UnknownKey(kid)
        return key

    def _may_refresh(self, now: float) -> bool:
        return (
            self._refreshed_at is None or now - self._refreshed_at >= settings.OIDC_JWKS_MIN_REFRESH
        )

    def _load(self, now: float) -> bool:
        """Fetch the keys; ``True`` when they were read. A provider that just failed is not
        asked again within ``OIDC_JWKS_MIN_REFRESH``."""
        if self._failed_at is not None and now - self._failed_at < settings.OIDC_JWKS_MIN_REFRESH:
            if self._keys is None:
                raise ProviderUnavailable(f"the signing keys at {self.url} could not be read")
            return False
        try:
            document = fetch_json(self.url, "signing keys (JWKS)")
        except ProviderUnavailable as error:
            self._failed_at = now
            if self._keys is None:
                raise
            logger.warning("keeping the signing keys already known: %s", error)
            return False
        keys = []
        for data in document.get("keys") or []:
            if not isinstance(data, dict) or data.get("use", "sig") != "sig":
                continue
            try:
                keys.append((data.get("kid"), data.get("alg"), jwt.PyJWK(data)))
            except jwt.PyJWTError as error:
                logger.info("skipping a signing key of %s: %s", self.url, error)
        self._keys = keys
        self._loaded_at = now
        self._failed_at = None
        return True

    def _match(self, kid: str | None, algorithm: str) -> jwt.PyJWK | None:
        key_type = KEY_TYPES.get(algorithm[:2])
        candidates = [
            key
            for key_id, declared_algorithm, key in self._keys or []
            if (kid is None or key_id == kid)
            and key.key_type == key_type
            and declared_algorithm in (None, algorithm)
        ]
        # A token without a key id is accepted only when one key could have signed it.
        if len(candidates) == 1 or (kid is not None and candidates):
            return candidates[0]
        return None


_key_sets: dict[str, KeySet] = {}
_registry_lock = threading.Lock()


def key_set(url: str) -> KeySet:
    with _registry_lock:
        if url not in _key_sets:
            _key_sets[url] = KeySet(url)
        return _key_sets[url]


def clear() -> None:
    with _registry_lock:
        _key_sets.clear()


def key_for(url: str, kid: str | None, algorithm: str) -> jwt.PyJWK:
    """The key at ``url`` that signed a token with header ``kid`` and ``alg``."""
    return key_set(url).key_for(kid, algorithm)
