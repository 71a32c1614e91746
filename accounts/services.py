"""Who a provider's token stands for: the NanoMon user linked to its issuer and subject.

- A user is found by ``OidcIdentity(issuer, subject)`` only: never by e-mail or username.
- Someone new gets a user (when ``OIDC_CREATE_USER``, the default) named after their
  ``preferred_username``, ``email`` or ``name`` (made unique with a suffix; never an existing
  account), in the ``OIDC_DEFAULT_ROLE`` group. Programs (client-credentials tokens) get one
  the same way, usually named after their subject.
- Browser sign-in updates e-mail and names from the claims, and, with ``OIDC_GROUPS_CLAIM``
  set, the user's role groups (``sync_groups``). API calls change nothing about the user.
- A deactivated user is refused, whichever way it signs in.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import OidcIdentity
from accounts.providers import Provider
from accounts.roles import ADMIN, ROLES, role_group
from accounts.tokens import TokenError

logger = logging.getLogger(__name__)

UNSAFE_USERNAME = re.compile(r"[^\w.@+-]")


class SignInRefused(Exception):
    """A valid identity NanoMon does not let in; the message is shown to the person."""


def identity_sign_in(claims: Mapping, provider: Provider, *, now: datetime | None = None):
    """The user for a browser sign-in (ID token claims merged with the userinfo answer).

    Raises ``SignInRefused`` when there is no account and none may be created, or the
    account is deactivated.
    """
    now = now or timezone.now()
    issuer = provider.identity_issuer(claims)
    user, created = _user_for(issuer, claims["sub"], claims)
    if user is None:
        raise SignInRefused("there is no NanoMon account for you yet: ask an administrator")
    if not user.is_active:
        raise SignInRefused("your NanoMon account is deactivated")
    if not created:
        _update_profile(user, claims)
    sync_groups(user, claims)
    OidcIdentity.objects.filter(issuer=issuer, subject=claims["sub"]).update(last_sign_in_at=now)
    return user


def user_for_token(claims: Mapping, provider: Provider):
    """The user an API bearer token stands for. Raises ``TokenError`` (a 401)."""
    issuer = provider.identity_issuer(claims)
    user, _ = _user_for(issuer, claims["sub"], claims)
    if user is None:
        raise TokenError("no NanoMon account is linked to the token's subject")
    if not user.is_active:
        raise TokenError("the NanoMon account of the token's subject is deactivated")
    return user


def _user_for(issuer: str, subject: str, claims: Mapping):
    """``(user, created)``; ``(None, False)`` when unknown and creating is off."""
    identity = (
        OidcIdentity.objects.select_related("user").filter(issuer=issuer, subject=subject).first()
    )
    if identity is not None:
        return identity.user, False
    if not settings.OIDC_CREATE_USER:
        return None, False
    try:
        with transaction.atomic():
            # No password: this account signs in through the provider only.
            user = get_user_model().objects.create_user(
                _free_username(claims, issuer, subject),
                email=_claim(claims, "email")[:254],
                first_name=_claim(claims, "given_name")[:150],
                last_name=_claim(claims, "family_name")[:150],
            )
            OidcIdentity.objects.create(user=user, issuer=issuer, subject=subject)
            if settings.OIDC_DEFAULT_ROLE:
                user.groups.add(role_group(settings.OIDC_DEFAULT_ROLE))
                _set_staff(user)
    except IntegrityError:
        # The same identity signed in twice at once: the other request created it.
        identity = OidcIdentity.objects.select_related("user").get(issuer=issuer, subject=subject)
        return identity.user, False
    logger.info("created user %r for %s at %s", user.username, subject, issuer)
    return user, True


def _claim(claims: Mapping, name: str) -> str:
    value = claims.get(name)
    return value.strip() if isinstance(value, str) else ""


def _free_username(claims: Mapping, issuer: str, subject: str) -> str:
    """A username no account has yet, from the claims people recognise."""
    base = ""
    for name in ("preferred_username", "email", "name"):
        base = UNSAFE_USERNAME.sub("_", _claim(claims, name))[:120]
        if base:
            break
    if not base:
        base = UNSAFE_USERNAME.sub("_", subject)[:120] or "oidc"
    users = get_user_model().objects
    if not users.filter(username__iexact=base).exists():
        return base
    digest = hashlib.sha256(f"{issuer} {subject}".encode()).hexdigest()
    for length in (6, 12, 64):
        candidate = f"{base}-{digest[:length]}"
        if not users.filter(username__iexact=candidate).exists():
            return candidate
    raise IntegrityError("no free username")  # a sha256 collision: not in this universe


def _update_profile(user, claims: Mapping) -> None:
    changed = []
    for field, claim, limit in (
        ("email", "email", 254),
        ("first_name", "given_name", 150),
        ("last_name", "family_name", 150),
    ):
        value = _claim(claims, claim)[:limit]
        if value and getattr(user, field) != value:
            setattr(user, field, value)
            changed.append(field)
    if changed:
        user.save(update_fields=changed)


def claim_values(claims: Mapping, path: str) -> list[str]:
    """The strings at ``path`` (``groups``, or dotted: ``realm_access.roles``)."""
    value: object = claims.get(path)
    if value is None and "." in path:
        value = claims
        for part in path.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def groups_map() -> dict[str, str]:
    """Claim value → Django group. Default: the three role names map to themselves."""
    return dict(settings.OIDC_GROUPS_MAP) or {role: role for role in ROLES}


def sync_groups(user, claims: Mapping) -> None:
    """With ``OIDC_GROUPS_CLAIM`` set: the groups NanoMon manages (every group named in
    ``OIDC_GROUPS_MAP``, plus the default role) become exactly the default role plus the
    groups the claim's values map to. Other groups (given by hand in the admin) are kept.
    Claim values not in the map are ignored: a provider cannot invent groups."""
    if not settings.OIDC_GROUPS_CLAIM:
        return
    mapping = groups_map()
    default = {settings.OIDC_DEFAULT_ROLE} if settings.OIDC_DEFAULT_ROLE else set()
    managed = set(mapping.values()) | default
    values = claim_values(claims, settings.OIDC_GROUPS_CLAIM)
    wanted = {mapping[value] for value in values if value in mapping} | default
    held = set(user.groups.filter(name__in=managed).values_list("name", flat=True))
    if held - wanted:
        user.groups.remove(*Group.objects.filter(name__in=held - wanted))
    if wanted - held:
        user.groups.add(*(_group(name) for name in sorted(wanted - held)))
    _set_staff(user)


def _group(name: str) -> Group:
    if name in ROLES:
        return role_group(name)
    group, _ = Group.objects.get_or_create(name=name)
    return group


def _set_staff(user) -> None:
    """Members of the admin role may open the Django admin (alert channels live there)."""
    if user.is_superuser:
        return
    staff = user.groups.filter(name=ADMIN).exists()
    if user.is_staff != staff:
        user.is_staff = staff
        user.save(update_fields=["is_staff"])
