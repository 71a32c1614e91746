"""Checking the provider's JWTs locally: access tokens (API bearer) and ID tokens (sign-in).

In this order, the first failure wins: the token is a JWT; its ``alg`` is in the allow-list
(``OIDC_ALGORITHMS``: asymmetric only, so never ``none`` nor an HMAC keyed with a public key);
a provider key with its ``kid`` verifies the signature (``accounts.jwks``); ``exp``, ``iss``,
``aud`` and ``sub`` are present; ``exp``/``nbf``/``iat`` hold, with ``OIDC_LEEWAY``; the
audience is one NanoMon accepts; the issuer is the provider's. Access tokens must then carry a
scope claim (``scp``, Entra ID's, or ``scope``), which also tells them from ID tokens.
"""

from __future__ import annotations

from collections.abc import Iterable

import jwt

from accounts import jwks
from accounts.providers import Provider


class TokenError(Exception):
    """A token to refuse. The message says why in words safe to show to its bearer."""


def validate(token: str, provider: Provider, *, audiences: Iterable[str]) -> dict:
    """The claims of ``token`` once signature, algorithm, times, audience and issuer hold."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise TokenError("the token is not a JWT") from None
    algorithm = header.get("alg")
    if not isinstance(algorithm, str) or algorithm not in provider.algorithms:
        raise TokenError(f"the token's signing algorithm {str(algorithm)[:20]!r} is not allowed")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise TokenError("the token's key id is not a string")
    try:
        key = jwks.key_for(provider.endpoint("jwks_uri"), kid, algorithm)
    except jwks.UnknownKey:
        raise TokenError("the token is signed with a key the provider does not publish") from None
    try:
        claims = jwt.decode(
            token,
            key.key,
            algorithms=[algorithm],
            audience=list(audiences),
            leeway=provider.leeway,
            options={"require": ["exp", "iss", "aud", "sub"], "verify_iss": False},
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("the token has expired") from None
    except jwt.ImmatureSignatureError:
        raise TokenError("the token is not valid yet") from None
    except jwt.MissingRequiredClaimError as error:
        raise TokenError(f"the token has no {error.claim} claim") from None
    except jwt.InvalidAudienceError:
        raise TokenError("the token is meant for another audience") from None
    except jwt.InvalidSignatureError:
        raise TokenError("the token's signature does not verify") from None
    except (jwt.PyJWTError, ValueError, TypeError):
        raise TokenError("the token is malformed") from None
    if not provider.issuer_accepted(claims):
        raise TokenError("the token comes from another issuer")
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 255:
        raise TokenError("the token's subject is not a usable identifier")
    if len(claims["iss"]) > 500:
        raise TokenError("the token's issuer is too long")
    return claims


def scopes_of(claims: dict) -> frozenset[str]:
    """The scopes granted by ``scp`` and/or ``scope`` (a space-separated string or a list)."""
    scopes: set[str] = set()
    found = False
    for name in ("scp", "scope"):
        if name not in claims:
            continue
        found = True
        value = claims[name]
        if isinstance(value, str):
            scopes.update(value.split())
        elif isinstance(value, list) and all(isinstance(item, str) for item in value):
            scopes.update(value)
        else:
            raise TokenError(f"the token's {name} claim is not a string or a list of strings")
    if not found:
        raise TokenError("the token has no scope claim (scp or scope)")
    return frozenset(scopes)


def validate_access_token(token: str, provider: Provider) -> tuple[dict, frozenset[str]]:
    """An API bearer token: its claims and scopes. The audience is NanoMon's API audience
    (``OIDC_API_AUDIENCE``, else the client id), with or without the ``api://`` prefix."""
    claims = validate(token, provider, audiences=provider.api_audiences)
    return claims, scopes_of(claims)


def validate_id_token(token: str, provider: Provider, *, nonce: str | None) -> dict:
    """An ID token from the sign-in code flow: for this client, with this sign-in's nonce."""
    if not isinstance(token, str) or not token:
        raise TokenError("the provider returned no ID token")
    claims = validate(token, provider, audiences=[provider.client_id])
    audience = claims["aud"]
    several = isinstance(audience, list) and len(audience) > 1
    if several and claims.get("azp") != provider.client_id:
        raise TokenError("the ID token was issued to another client (azp)")
    if nonce is not None and claims.get("nonce") != nonce:
        raise TokenError("the ID token's nonce does not match this sign-in")
    return claims
