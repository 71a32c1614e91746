"""Masking of secrets for people who may not change a monitor, and for every place that must
never show them in full (logs, alerts, exports for viewers): secret properties (an
Authorization header, a request body), declared by each probe type (``PropertySpec.secret``),
and the credentials a target URL may carry (``masked_target``: user info and secret-looking
query parameters). A masked value sent back keeps the stored secret (``restore_masked_target``
here, ``restore_masked_secrets`` for properties).

Secret properties are stored sealed (``enc:v1:…``, ``lib.secrets_at_rest``): ``Monitor.save``
seals them (``sealed_properties``), the probe's parse opens them, and the readers who may see
them get them opened (``revealed_properties``); masking opens a sealed value only to keep a
JSON object's keys.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote_plus

from lib.secrets_at_rest import SecretsKeyError, is_sealed, open_sealed, seal
from monitors.probes import REGISTRY

MASK = "••••••"


def _mask_value(value: str) -> str:
    """Mask a secret value; a JSON object keeps its keys (header names) and loses its values."""
    try:
        value = open_sealed(value)
    except SecretsKeyError:
        return MASK
    try:
        parsed = json.loads(value)
    except (TypeError, ValueError):
        return MASK
    if isinstance(parsed, dict):
        return json.dumps(dict.fromkeys(parsed, MASK), ensure_ascii=False)
    return MASK


def masked_properties(kind: str, properties: Mapping[str, object] | None) -> dict[str, object]:
    """A copy of ``properties`` with every secret property of ``kind`` masked."""
    properties = dict(properties or {})
    probe_type = REGISTRY.get(kind)
    if probe_type is None:
        return properties
    for spec in probe_type.properties:
        value = properties.get(spec.name)
        if spec.secret and isinstance(value, str) and value:
            properties[spec.name] = _mask_value(value)
    return properties


def secret_property_names(kind: str) -> tuple[str, ...]:
    """The secret properties of ``kind`` (``PropertySpec.secret``), in declaration order."""
    probe_type = REGISTRY.get(kind)
    if probe_type is None:
        return ()
    return tuple(spec.name for spec in probe_type.properties if spec.secret)


def sealed_properties(kind: str, properties: Mapping[str, object] | None) -> dict[str, object]:
    """A copy of ``properties`` with every secret property of ``kind`` sealed (what is stored;
    a sealed value stays as it is)."""
    properties = dict(properties or {})
    for name in secret_property_names(kind):
        value = properties.get(name)
        if isinstance(value, str) and value and not is_sealed(value):
            properties[name] = seal(value)
    return properties


def revealed_properties(kind: str, properties: Mapping[str, object] | None) -> dict[str, object]:
    """A copy of ``properties`` with every sealed secret of ``kind`` opened, for a reader who
    may see secrets; one that no key opens shows the mask (sent back, it keeps the stored
    value)."""
    properties = dict(properties or {})
    for name in secret_property_names(kind):
        value = properties.get(name)
        if is_sealed(value):
            try:
                properties[name] = open_sealed(value)
            except SecretsKeyError:
                properties[name] = MASK
    return properties


# --- Targets: credentials in a URL ---------------------------------------------------------------

# Query (and fragment) parameters whose values are masked, compared without case, with ``-``
# read as ``_`` (``api-key`` is ``api_key``).
SECRET_QUERY_NAMES = frozenset(
    {
        "token",
        "key",
        "secret",
        "password",
        "passwd",
        "pwd",
        "api_key",
        "apikey",
        "access_token",
        "auth",
        "signature",
        "sig",
    }
)


def _secret_name(name: str) -> bool:
    return unquote_plus(name).strip().lower().replace("-", "_") in SECRET_QUERY_NAMES


@dataclass
class _Url:
    """A URL target cut where its secrets may be, keeping every character as written (so
    masking changes nothing else, and a masked target compares with what a client sends back):
    ``head`` (``https://``), ``userinfo`` (before the last ``@`` of the authority), the rest of
    the authority and the path, the query and the fragment (None when absent)."""

    head: str
    userinfo: str | None
    rest: str
    query: str | None
    fragment: str | None

    @classmethod
    def split(cls, target: str) -> _Url | None:
        head, separator, remainder = target.partition("://")
        if not separator or not head or "/" in head:
            return None
        remainder, hash_mark, fragment = remainder.partition("#")
        remainder, question_mark, query = remainder.partition("?")
        authority, slash, path = remainder.partition("/")
        userinfo, at, host = authority.rpartition("@")
        return cls(
            head=head + separator,
            userinfo=userinfo if at else None,
            rest=(host if at else authority) + slash + path,
            query=query if question_mark else None,
            fragment=fragment if hash_mark else None,
        )

    def join(self) -> str:
        userinfo = "" if self.userinfo is None else self.userinfo + "@"
        query = "" if self.query is None else "?" + self.query
        fragment = "" if self.fragment is None else "#" + self.fragment
        return f"{self.head}{userinfo}{self.rest}{query}{fragment}"


def _map_pairs(text: str, replace, *, fragment: bool = False) -> str:
    """``text`` (a query ``a=1&token=x``, or a fragment ``access_token=x`` or
    ``/route?token=x``) with each secret pair's value replaced by ``replace(name, value)``."""
    route, question_mark, pairs = "", "", text
    if fragment and "?" in text:
        route, question_mark, pairs = text.partition("?")
    pieces = pairs.split("&")
    for index, piece in enumerate(pieces):
        name, equals, value = piece.partition("=")
        if equals and value and _secret_name(name):
            pieces[index] = f"{name}={replace(name, value)}"
    return route + question_mark + "&".join(pieces)


def masked_target(target: str) -> str:
    """``target`` with the credentials a URL may carry masked: its user info
    (``https://••••••@host/``) and the values of secret-looking query or fragment parameters
    (``?token=••••••``, ``SECRET_QUERY_NAMES``). Anything else, and targets that are not URLs
    (tcp, ping, dns), come back unchanged."""
    if "@" not in target and "=" not in target:
        return target
    url = _Url.split(target)
    if url is None:
        return target
    if url.userinfo:
        url.userinfo = MASK
    if url.query:
        url.query = _map_pairs(url.query, lambda name, value: MASK)
    if url.fragment:
        url.fragment = _map_pairs(url.fragment, lambda name, value: MASK, fragment=True)
    return url.join()


def restore_masked_target(submitted: str, stored: str) -> str:
    """``submitted`` with the masked parts of a target put back to their ``stored`` values, as
    ``restore_masked_secrets`` does for properties: the masked target as it was read keeps the
    stored one, and in a changed target a masked user info or parameter value keeps the stored
    one (a parameter by its name, the n-th of that name for the n-th). A mask with nothing
    stored to stand for stays (and ``masked_target_problem`` refuses it)."""
    if MASK not in submitted or not stored:
        return submitted
    if submitted == masked_target(stored):
        return stored
    new, old = _Url.split(submitted), _Url.split(stored)
    if new is None or old is None:
        return submitted
    if new.userinfo == MASK and old.userinfo:
        new.userinfo = old.userinfo
    for part in ("query", "fragment"):
        new_text, old_text = getattr(new, part), getattr(old, part)
        if new_text is None or old_text is None or MASK not in new_text:
            continue
        setattr(new, part, _put_back(new_text, old_text, fragment=part == "fragment"))
    return new.join()


def _put_back(new: str, old: str, *, fragment: bool) -> str:
    """``new`` (a query or fragment) with each masked secret value taken from ``old``: the
    n-th parameter of a name from the n-th of that name in ``old``."""
    stored: dict[str, list[str]] = {}

    def remember(name: str, value: str) -> str:
        stored.setdefault(unquote_plus(name).lower(), []).append(value)
        return value

    def restore(name: str, value: str) -> str:
        values = stored.get(unquote_plus(name).lower())
        kept = values.pop(0) if values else None
        return kept if value == MASK and kept is not None else value

    _map_pairs(old, remember, fragment=fragment)
    return _map_pairs(new, restore, fragment=fragment)


def masked_target_problem(target: str) -> str | None:
    """Why ``target`` cannot be stored because it still holds a mask, or None."""
    if MASK in target:
        return (
            "target holds a masked secret: give it in full (export it as a user who may "
            "change monitors)"
        )
    return None
