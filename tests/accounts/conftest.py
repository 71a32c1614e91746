"""Fixtures for single sign-on: a small identity provider on loopback that serves a discovery
document and a JWKS (counting every fetch), keys generated per test session, a token factory
signing with them, and settings that point NanoMon at it.

The real OpenID provider (oidc-provider on Node.js) for the end-to-end tests is in
``tests/accounts/provider.py``.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from rest_framework.test import APIClient

from accounts import jwks, providers
from tests.accounts import provider as real
from tests.support.http_servers import serve_app

CLIENT_ID = "nanomon"
WEB_SECRET = "web-client-secret"
ROBOT_SECRET = "robot-client-secret"


@dataclass
class SigningKey:
    kid: str
    algorithm: str
    private_key: object

    def public_jwk(self) -> dict:
        jwk = json.loads(jwt.get_algorithm_by_name(self.algorithm).to_jwk(self.public_key()))
        return {**jwk, "kid": self.kid, "alg": self.algorithm, "use": "sig"}

    def public_key(self):
        return self.private_key.public_key()

    def public_pem(self) -> bytes:
        return self.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


@pytest.fixture(scope="session")
def rsa_key() -> SigningKey:
    return SigningKey("rsa-1", "RS256", rsa.generate_private_key(65537, 2048))


@pytest.fixture(scope="session")
def ec_key() -> SigningKey:
    return SigningKey("ec-1", "ES256", ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture(scope="session")
def other_rsa_key() -> SigningKey:
    """A key the provider does not publish (until a test rotates it in)."""
    return SigningKey("rsa-2", "RS256", rsa.generate_private_key(65537, 2048))


@dataclass
class IdentityProvider:
    """What the test provider serves; tests change ``keys`` and ``up`` as they go."""

    base_url: str = ""
    keys: list[SigningKey] = field(default_factory=list)
    up: bool = True
    fetches: Counter = field(default_factory=Counter)

    @property
    def issuer(self) -> str:
        return self.base_url

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def discovery(self) -> dict:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.url("/authorize"),
            "token_endpoint": self.url("/token"),
            "userinfo_endpoint": self.url("/userinfo"),
            "jwks_uri": self.url("/jwks"),
            "end_session_endpoint": self.url("/logout"),
        }


def _provider_app(state: IdentityProvider) -> web.Application:
    async def handle(request: web.Request) -> web.Response:
        state.fetches[request.path] += 1
        if not state.up:
            return web.Response(status=503)
        if request.path == "/jwks":
            return web.json_response({"keys": [key.public_jwk() for key in state.keys]})
        if request.path == "/.well-known/openid-configuration":
            return web.json_response(state.discovery())
        return web.Response(status=404)

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    return app


@pytest.fixture
def idp(rsa_key, ec_key) -> Iterator[IdentityProvider]:
    state = IdentityProvider(keys=[rsa_key, ec_key])
    with serve_app(_provider_app(state)) as server:
        state.base_url = server.url("")
        yield state


def clear_provider_caches() -> None:
    """Forget discovery documents and signing keys (as after a change of provider)."""
    providers.clear()
    jwks.clear()


@pytest.fixture(autouse=True)
def fresh_provider_caches() -> Iterator[None]:
    """No discovery document or signing key survives from one test to the next."""
    clear_provider_caches()
    yield
    clear_provider_caches()


@pytest.fixture
def oidc(settings, idp) -> IdentityProvider:
    """NanoMon configured for bearer tokens from ``idp`` (a generic provider, no secret:
    no browser sign-in)."""
    settings.OIDC_PROVIDER_KIND = "generic"
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = ""
    settings.OIDC_OP_ISSUER = idp.issuer
    settings.OIDC_OP_JWKS_ENDPOINT = idp.url("/jwks")
    return idp


TokenFactory = Callable[..., str]


@pytest.fixture
def make_token(idp, rsa_key) -> TokenFactory:
    """A signed access token; keyword arguments override claims (``None`` drops one)."""

    def make(
        key: SigningKey | None = None, *, headers: dict | None = None, **overrides: object
    ) -> str:
        key = key or rsa_key
        now = int(time.time())
        claims = {
            "iss": idp.issuer,
            "aud": CLIENT_ID,
            "sub": "robot-1",
            "iat": now,
            "exp": now + 300,
            "scope": "system.admin",
        }
        claims.update(overrides)
        claims = {name: value for name, value in claims.items() if value is not None}
        return jwt.encode(
            claims,
            key.private_key,
            algorithm=key.algorithm,
            headers={"kid": key.kid, **(headers or {})},
        )

    return make


def bearer_client(token: str) -> APIClient:
    """An API client that sends ``Authorization: Bearer <token>``."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


# --- The real OpenID provider (end-to-end tests) -----------------------------------------------


@dataclass
class LoopbackRedirect:
    """Where a command-line tool receives its authorization code: a listener on loopback."""

    url: str = ""
    received: list[str] = field(default_factory=list)


@pytest.fixture(scope="session")
def cli_redirect() -> Iterator[LoopbackRedirect]:
    state = LoopbackRedirect()

    async def receive(request: web.Request) -> web.Response:
        state.received.append(request.path_qs)
        return web.Response(text="Signed in: you may close this window.")

    app = web.Application()
    app.router.add_get("/{tail:.*}", receive)
    with serve_app(app) as server:
        state.url = server.url("/callback")
        yield state


@pytest.fixture(scope="session")
def real_provider(live_server, cli_redirect, tmp_path_factory) -> Iterator[real.RealProvider]:
    """oidc-provider on loopback, knowing NanoMon's live server as a client (``nanomon``), a
    command-line client (``nanomon-cli``, public, PKCE), a program (``robot``, client
    credentials), two people (any password) and two APIs (``api://nanomon`` and another)."""
    config = {
        "clients": [
            {
                "client_id": CLIENT_ID,
                "client_secret": WEB_SECRET,
                "redirect_uris": [f"{live_server.url}/oidc/callback/"],
                "post_logout_redirect_uris": [f"{live_server.url}/login"],
            },
            {
                "client_id": "nanomon-cli",
                "token_endpoint_auth_method": "none",
                "redirect_uris": [cli_redirect.url],
            },
            {
                "client_id": "robot",
                "client_secret": ROBOT_SECRET,
                "grant_types": ["client_credentials"],
                "redirect_uris": [],
                "response_types": [],
            },
        ],
        "accounts": {
            "alice": {
                "email": "alice@example.com",
                "email_verified": True,
                "name": "Alice Liddell",
                "given_name": "Alice",
                "family_name": "Liddell",
                "preferred_username": "alice",
                "groups": ["nanomon-editors", "wonderland"],
            },
            "bob": {"email": "bob@example.com", "preferred_username": "bob", "groups": []},
        },
        "resources": {
            "api://nanomon": {"audience": "api://nanomon", "scope": "system.admin monitors.read"},
            "api://other-app": {"audience": "api://other-app", "scope": "system.admin"},
        },
    }
    log = tmp_path_factory.mktemp("oidc-provider") / "provider.log"
    with real.running(config, log) as running:
        yield running


@pytest.fixture
def sso(settings, real_provider) -> real.RealProvider:
    """NanoMon signing people in with the real provider (discovered), groups from ``groups``."""
    settings.OIDC_PROVIDER_KIND = "generic"
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = WEB_SECRET
    settings.OIDC_DISCOVERY_URL = real_provider.discovery_url
    settings.OIDC_PROVIDER_NAME = "Test IdP"
    settings.OIDC_RP_SCOPES = "openid email profile groups"
    settings.OIDC_GROUPS_CLAIM = "groups"
    settings.OIDC_GROUPS_MAP = {"nanomon-editors": "editor"}
    return real_provider
