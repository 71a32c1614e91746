"""The OpenID provider NanoMon trusts, from settings: endpoints, issuers, audiences, scope.

Two kinds (docs/single-sign-on.md):

- **generic** (Keycloak, Authentik, Okta, Google, any OpenID provider): ``OIDC_DISCOVERY_URL``
  (or ``OIDC_OP_ISSUER``, whose ``/.well-known/openid-configuration`` is read), and/or the
  endpoints one by one (``OIDC_OP_*_ENDPOINT``), which win over the discovered ones. The
  discovery document is read lazily on first use, then kept for a day (a failed refresh keeps
  the old one), so starting NanoMon never waits for the provider.
- **entra** (NanoMon's own settings): ``AUTH_CLIENT_ID`` with none of the above. Every
  endpoint is derived from ``AUTH_TENANT`` (default ``common``); nothing is fetched but the
  signing keys. A tenant that is not a tenant ID (``common``, ``organizations``,
  ``consumers``, a domain name) accepts the issuer of the token's own tenant
  (``https://login.microsoftonline.com/{tid}/v2.0``, and ``https://sts.windows.net/{tid}/``
  for v1.0 access tokens); a tenant ID pins both to that tenant.

Nothing is configured without a client id: ``current()`` is then ``None`` and NanoMon behaves
as before (no bearer tokens, no "Sign in with …").
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from time import monotonic
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.http import HttpRequest
from django.shortcuts import resolve_url

logger = logging.getLogger(__name__)

ENTRA_AUTHORITY = "https://login.microsoftonline.com"
ENTRA_USERINFO = "https://graph.microsoft.com/oidc/userinfo"
TENANT_PLACEHOLDER = "{tenantid}"
TENANT_ID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
DISCOVERY_TTL_SECONDS = 24 * 3600
DISCOVERY_RETRY_SECONDS = 30
MAX_DOCUMENT_BYTES = 1024 * 1024

ENDPOINT_SETTINGS = {
    "authorization_endpoint": "OIDC_OP_AUTHORIZATION_ENDPOINT",
    "token_endpoint": "OIDC_OP_TOKEN_ENDPOINT",
    "userinfo_endpoint": "OIDC_OP_USER_ENDPOINT",
    "jwks_uri": "OIDC_OP_JWKS_ENDPOINT",
    "end_session_endpoint": "OIDC_OP_LOGOUT_ENDPOINT",
}


class ProviderUnavailable(Exception):
    """The provider's discovery document or signing keys cannot be read right now."""


class ProviderMisconfigured(Exception):
    """An endpoint NanoMon needs is neither configured nor in the discovery document."""


@dataclass(frozen=True)
class Provider:
    """What NanoMon knows about its OpenID provider (built from settings by ``current()``)."""

    kind: str  # "generic" or "entra"
    name: str  # "Sign in with <name>"
    client_id: str
    client_secret: str
    discovery_url: str
    explicit_endpoints: dict[str, str] = field(default_factory=dict)
    explicit_issuers: tuple[str, ...] = ()
    api_audiences: tuple[str, ...] = ()
    write_scope: str = "system.admin"
    algorithms: tuple[str, ...] = ("RS256",)
    leeway: float = 60.0

    @property
    def browser_sign_in(self) -> bool:
        """People sign in through the browser: needs the client secret (a confidential client)."""
        return bool(self.client_secret)

    def metadata(self) -> dict:
        """The discovery document (``{}`` when there is none to read)."""
        if not self.discovery_url:
            return {}
        return _discovery.get(self.discovery_url)

    def endpoint(self, name: str, *, required: bool = True) -> str:
        """An endpoint URL: configured, derived (Entra ID) or discovered."""
        url = self.explicit_endpoints.get(name)
        if not url and self.discovery_url:
            url = self.metadata().get(name) or ""
        if not url and required:
            raise ProviderMisconfigured(
                f"the provider has no {name}: set {ENDPOINT_SETTINGS[name]} or OIDC_DISCOVERY_URL"
            )
        return url if isinstance(url, str) else ""

    def issuers(self) -> tuple[str, ...]:
        """Accepted ``iss`` values; ``{tenantid}`` stands for the token's ``tid`` claim."""
        if self.explicit_issuers:
            return self.explicit_issuers
        issuer = self.metadata().get("issuer")
        if not isinstance(issuer, str) or not issuer:
            raise ProviderMisconfigured(
                "the discovery document names no issuer: set OIDC_OP_ISSUER"
            )
        return (issuer,)

    def issuer_accepted(self, claims: Mapping) -> bool:
        issuer = claims.get("iss")
        if not isinstance(issuer, str):
            return False
        tenant = claims.get("tid")
        for accepted in self.issuers():
            if TENANT_PLACEHOLDER not in accepted:
                if accepted == issuer:
                    return True
            elif (
                isinstance(tenant, str)
                and TENANT_ID.fullmatch(tenant)
                and accepted.replace(TENANT_PLACEHOLDER, tenant) == issuer
            ):
                return True
        return False

    def identity_issuer(self, claims: Mapping) -> str:
        """The issuer users are stored under. Entra ID's v1.0 access tokens name the tenant's
        ``sts.windows.net`` issuer, its ID tokens the v2.0 one: both are the same tenant."""
        issuer = claims["iss"]
        tenant = claims.get("tid")
        if self.kind == "entra" and issuer.startswith("https://sts.windows.net/") and tenant:
            return f"{ENTRA_AUTHORITY}/{tenant}/v2.0"
        return issuer

    def token_auth_basic(self) -> bool:
        """Authenticate to the token endpoint with HTTP Basic (the OAuth default) unless the
        provider only takes ``client_secret_post`` (Entra ID: post)."""
        if self.kind == "entra":
            return False
        supported = self.metadata().get("token_endpoint_auth_methods_supported")
        if isinstance(supported, list) and "client_secret_basic" not in supported:
            return "client_secret_post" not in supported
        return True


def with_api_prefix_variants(audiences: list[str]) -> tuple[str, ...]:
    """Each audience with and without NanoMon's ``api://`` prefix."""
    accepted: list[str] = []
    for audience in audiences:
        bare = audience.removeprefix("api://")
        for variant in (audience, bare, f"api://{bare}"):
            if variant and variant not in accepted:
                accepted.append(variant)
    return tuple(accepted)


def current() -> Provider | None:
    """The configured provider, or ``None`` when single sign-on is off. Cheap: reads settings
    only; the discovery document is fetched when an endpoint is first needed."""
    client_id = settings.OIDC_RP_CLIENT_ID
    if not client_id:
        return None
    explicit = {
        name: getattr(settings, setting)
        for name, setting in ENDPOINT_SETTINGS.items()
        if getattr(settings, setting)
    }
    common = {
        "client_id": client_id,
        "client_secret": settings.OIDC_RP_CLIENT_SECRET,
        "api_audiences": with_api_prefix_variants(settings.OIDC_API_AUDIENCE or [client_id]),
        "write_scope": settings.OIDC_WRITE_SCOPE,
        "algorithms": tuple(settings.OIDC_ALGORITHMS),
        "leeway": settings.OIDC_LEEWAY,
    }
    if settings.OIDC_PROVIDER_KIND == "entra":
        tenant = settings.AUTH_TENANT
        authority = f"{ENTRA_AUTHORITY}/{tenant}"
        pinned = tenant if TENANT_ID.fullmatch(tenant) else TENANT_PLACEHOLDER
        return Provider(
            kind="entra",
            name=settings.OIDC_PROVIDER_NAME or "Microsoft",
            discovery_url="",
            explicit_endpoints={
                "authorization_endpoint": f"{authority}/oauth2/v2.0/authorize",
                "token_endpoint": f"{authority}/oauth2/v2.0/token",
                "userinfo_endpoint": ENTRA_USERINFO,
                "jwks_uri": f"{authority}/discovery/v2.0/keys",
                "end_session_endpoint": f"{authority}/oauth2/v2.0/logout",
            },
            explicit_issuers=(
                f"{ENTRA_AUTHORITY}/{pinned}/v2.0",
                f"https://sts.windows.net/{pinned}/",
            ),
            **common,
        )
    issuer = settings.OIDC_OP_ISSUER
    discovery_url = settings.OIDC_DISCOVERY_URL
    if not discovery_url and issuer and len(explicit) < len(ENDPOINT_SETTINGS):
        discovery_url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    return Provider(
        kind="generic",
        name=settings.OIDC_PROVIDER_NAME or "single sign-on",
        discovery_url=discovery_url,
        explicit_endpoints=explicit,
        explicit_issuers=(issuer,) if issuer else (),
        **common,
    )


def browser_provider() -> Provider | None:
    """The provider when people sign in with it through the browser."""
    provider = current()
    return provider if provider is not None and provider.browser_sign_in else None


def local_login_allowed() -> bool:
    """Whether the password form is offered (always, unless single sign-on replaces it)."""
    return settings.OIDC_LOCAL_LOGIN or browser_provider() is None


def logout_url(request: HttpRequest) -> str:
    """Where to go after signing out: the provider's ``end_session_endpoint`` for a session
    that came from single sign-on (RP-initiated logout, with ``id_token_hint`` and a
    ``post_logout_redirect_uri`` back to the sign-in page), else the sign-in page.

    Called before the session ends (it holds the ID token). Also mozilla-django-oidc's
    ``OIDC_OP_LOGOUT_URL_METHOD`` for ``/oidc/logout/``.
    """
    after = resolve_url(settings.LOGOUT_REDIRECT_URL)
    provider = browser_provider()
    id_token = request.session.get("oidc_id_token")
    if provider is None or not id_token:
        return after
    try:
        end_session = provider.endpoint("end_session_endpoint", required=False)
    except ProviderUnavailable:
        logger.warning("provider logout skipped: the discovery document cannot be read")
        return after
    if not end_session:
        return after
    query = urlencode(
        {
            "id_token_hint": id_token,
            "post_logout_redirect_uri": request.build_absolute_uri(after),
            "client_id": provider.client_id,
        }
    )
    return f"{end_session}{'&' if '?' in end_session else '?'}{query}"


def fetch_json(url: str, what: str) -> dict:
    """GET a small JSON object from the provider (discovery document, signing keys)."""
    try:
        with requests.get(url, timeout=settings.OIDC_TIMEOUT, stream=True) as response:
            response.raise_for_status()
            body = b""
            for chunk in response.iter_content(64 * 1024):
                body += chunk
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise ValueError("larger than 1 MiB")
        document = json.loads(body)
    except (requests.RequestException, ValueError) as error:
        raise ProviderUnavailable(f"cannot read the {what} at {url}: {error}") from None
    if not isinstance(document, dict):
        raise ProviderUnavailable(f"the {what} at {url} is not a JSON object")
    return document


class _DiscoveryCache:
    """Discovery documents by URL, kept for a day; a failed refresh keeps the old one and is
    retried after ``DISCOVERY_RETRY_SECONDS``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._documents: dict[str, tuple[dict, float]] = {}
        self._failed_at: dict[str, float] = {}

    def get(self, url: str) -> dict:
        with self._lock:
            now = monotonic()
            cached = self._documents.get(url)
            if cached and now - cached[1] < DISCOVERY_TTL_SECONDS:
                return cached[0]
            failed_at = self._failed_at.get(url)
            if cached and failed_at is not None and now - failed_at < DISCOVERY_RETRY_SECONDS:
                return cached[0]
            try:
                document = fetch_json(url, "discovery document")
            except ProviderUnavailable:
                self._failed_at[url] = now
                if cached:
                    logger.warning("keeping the old discovery document of %s", url)
                    return cached[0]
                raise
            self._documents[url] = (document, now)
            self._failed_at.pop(url, None)
            return document

    def clear(self) -> None:
        with self._lock:
            self._documents.clear()
            self._failed_at.clear()


_discovery = _DiscoveryCache()


def clear() -> None:
    """Forget the discovery documents (tests; ``accounts.jwks.clear`` forgets the keys)."""
    _discovery.clear()
