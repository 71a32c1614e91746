"""The provider configuration: generic (discovery or endpoints) and Entra ID (derived from
NanoMon's AUTH_CLIENT_ID / AUTH_TENANT, with no call to Microsoft), and bad settings."""

from __future__ import annotations

import re
import runpy
import time

import pytest
from django.test import RequestFactory

from accounts import providers
from accounts.providers import Provider
from accounts.tokens import TokenError, validate_access_token, validate_id_token
from nanomon.env import ConfigError
from tests.nanomon.test_env import ROOT, run_check

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


@pytest.fixture
def entra(settings):
    settings.AUTH_CLIENT_ID = "6b9c1e0a-1111-2222-3333-444455556666"
    settings.OIDC_RP_CLIENT_ID = settings.AUTH_CLIENT_ID
    settings.OIDC_PROVIDER_KIND = "entra"
    settings.AUTH_TENANT = "common"


@pytest.fixture
def discovered(settings, idp):
    """A generic provider read from ``idp``'s discovery document."""
    settings.OIDC_PROVIDER_KIND = "generic"
    settings.OIDC_RP_CLIENT_ID = "nanomon"
    settings.OIDC_DISCOVERY_URL = idp.url("/.well-known/openid-configuration")


def test_nothing_is_configured_by_default():
    assert providers.current() is None
    assert providers.browser_provider() is None
    assert providers.local_login_allowed()


def test_auth_client_id_alone_is_nanomons_entra_id_setup(entra):
    provider = providers.current()

    assert provider.kind == "entra"
    assert provider.name == "Microsoft"
    assert provider.endpoint("authorization_endpoint") == (
        "https://login.microsoftonline.com/common/oauth2/v2.0/authorize"
    )
    assert provider.endpoint("token_endpoint") == (
        "https://login.microsoftonline.com/common/oauth2/v2.0/token"
    )
    assert provider.endpoint("jwks_uri") == (
        "https://login.microsoftonline.com/common/discovery/v2.0/keys"
    )
    assert provider.endpoint("end_session_endpoint") == (
        "https://login.microsoftonline.com/common/oauth2/v2.0/logout"
    )
    assert provider.endpoint("userinfo_endpoint") == "https://graph.microsoft.com/oidc/userinfo"
    assert provider.api_audiences == (
        "6b9c1e0a-1111-2222-3333-444455556666",
        "api://6b9c1e0a-1111-2222-3333-444455556666",
    )
    assert provider.write_scope == "system.admin"
    assert not provider.browser_sign_in  # no secret: bearer tokens only, as NanoMon's API


def test_the_common_tenant_accepts_the_issuer_of_the_tokens_own_tenant(entra):
    provider = providers.current()

    for issuer in (
        f"https://login.microsoftonline.com/{TENANT}/v2.0",
        f"https://sts.windows.net/{TENANT}/",
    ):
        assert provider.issuer_accepted({"iss": issuer, "tid": TENANT})
    other = "0b2a4d4e-aaaa-bbbb-cccc-ddddeeeeffff"
    assert not provider.issuer_accepted(
        {"iss": f"https://login.microsoftonline.com/{TENANT}/v2.0", "tid": other}
    )
    assert not provider.issuer_accepted({"iss": "https://login.microsoftonline.com/x/v2.0"})
    assert not provider.issuer_accepted(
        {"iss": "https://login.microsoftonline.com/{tenantid}/v2.0", "tid": "{tenantid}"}
    )


def test_a_tenant_id_pins_the_issuer(entra, settings):
    settings.AUTH_TENANT = TENANT
    provider = providers.current()

    assert provider.endpoint("jwks_uri") == (
        f"https://login.microsoftonline.com/{TENANT}/discovery/v2.0/keys"
    )
    assert provider.issuers() == (
        f"https://login.microsoftonline.com/{TENANT}/v2.0",
        f"https://sts.windows.net/{TENANT}/",
    )
    other = "0b2a4d4e-aaaa-bbbb-cccc-ddddeeeeffff"
    assert not provider.issuer_accepted(
        {"iss": f"https://login.microsoftonline.com/{other}/v2.0", "tid": other}
    )


def test_entra_v1_and_v2_tokens_are_the_same_identity(entra):
    provider = providers.current()

    v1 = provider.identity_issuer({"iss": f"https://sts.windows.net/{TENANT}/", "tid": TENANT})
    v2 = provider.identity_issuer(
        {"iss": f"https://login.microsoftonline.com/{TENANT}/v2.0", "tid": TENANT}
    )

    assert v1 == v2 == f"https://login.microsoftonline.com/{TENANT}/v2.0"


def test_entra_tokens_validate_with_the_tenant_pattern(idp, make_token, rsa_key):
    # Entra ID's shape (tid, scp, api:// audience, v1 issuer), signed by the local test keys.
    provider = Provider(
        kind="entra",
        name="Microsoft",
        client_id="app-id",
        client_secret="",
        discovery_url="",
        explicit_endpoints={"jwks_uri": idp.url("/jwks")},
        explicit_issuers=(
            "https://login.microsoftonline.com/{tenantid}/v2.0",
            "https://sts.windows.net/{tenantid}/",
        ),
        api_audiences=providers.with_api_prefix_variants(["app-id"]),
        algorithms=("RS256",),
    )
    token = make_token(
        iss=f"https://sts.windows.net/{TENANT}/", tid=TENANT, aud="api://app-id", scp="system.admin"
    )

    claims, scopes = validate_access_token(token, provider)

    assert claims["tid"] == TENANT
    assert "system.admin" in scopes
    no_tenant = make_token(iss=f"https://sts.windows.net/{TENANT}/", aud="app-id")
    with pytest.raises(TokenError, match="another issuer"):
        validate_access_token(no_tenant, provider)


def test_a_generic_provider_is_discovered_lazily_once(discovered, idp):

    provider = providers.current()
    assert idp.fetches == {}  # nothing read until needed

    assert provider.issuers() == (idp.issuer,)
    assert provider.endpoint("authorization_endpoint") == idp.url("/authorize")
    assert providers.current().endpoint("jwks_uri") == idp.url("/jwks")
    assert idp.fetches["/.well-known/openid-configuration"] == 1


def test_an_issuer_alone_is_discovered_at_its_well_known_address(settings, idp):
    settings.OIDC_PROVIDER_KIND = "generic"
    settings.OIDC_RP_CLIENT_ID = "nanomon"
    settings.OIDC_OP_ISSUER = idp.issuer
    settings.OIDC_OP_TOKEN_ENDPOINT = "https://elsewhere.example/token"

    provider = providers.current()

    assert provider.endpoint("token_endpoint") == "https://elsewhere.example/token"  # explicit
    assert provider.endpoint("userinfo_endpoint") == idp.url("/userinfo")  # discovered


def test_an_unreachable_discovery_document_is_reported_and_retried_later(discovered, idp):
    idp.up = False

    with pytest.raises(providers.ProviderUnavailable):
        providers.current().endpoint("jwks_uri")
    idp.up = True

    assert providers.current().endpoint("jwks_uri") == idp.url("/jwks")


def test_id_tokens_must_be_for_this_client_with_this_nonce(oidc, make_token):
    provider = providers.current()
    now = int(time.time())
    token = make_token(aud="nanomon", nonce="n-1", scope=None, iat=now)

    assert validate_id_token(token, provider, nonce="n-1")["sub"] == "robot-1"
    with pytest.raises(TokenError, match="nonce"):
        validate_id_token(token, provider, nonce="n-2")
    with pytest.raises(TokenError, match="another audience"):
        validate_id_token(make_token(aud="api://nanomon", nonce="n-1"), provider, nonce="n-1")
    with pytest.raises(TokenError, match="azp"):
        validate_id_token(
            make_token(aud=["nanomon", "other"], azp="other", nonce="n-1"), provider, nonce="n-1"
        )


def test_logout_goes_through_the_providers_end_session_endpoint(discovered, settings, idp):
    settings.OIDC_RP_CLIENT_SECRET = "secret"
    request = RequestFactory().post("/logout")
    request.session = {"oidc_id_token": "the.id.token"}

    url = providers.logout_url(request)

    assert url == (
        f"{idp.url('/logout')}?id_token_hint=the.id.token"
        "&post_logout_redirect_uri=http%3A%2F%2Ftestserver%2Flogin&client_id=nanomon"
    )
    request.session = {}
    assert providers.logout_url(request) == "/login"  # a password session: local only


def test_the_api_prefix_variants_cover_both_spellings():
    assert providers.with_api_prefix_variants(["api://x", "y"]) == ("api://x", "x", "y", "api://y")


# --- Settings read from the environment -------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OIDC_RP_CLIENT_ID": "x"}, "OIDC_RP_CLIENT_ID needs OIDC_DISCOVERY_URL"),
        ({"OIDC_LOCAL_LOGIN": "false"}, "OIDC_LOCAL_LOGIN=false needs single sign-on"),
        ({"OIDC_ALGORITHMS": "RS256,HS256"}, "OIDC_ALGORITHMS must be asymmetric"),
        ({"OIDC_ALGORITHMS": "none"}, "OIDC_ALGORITHMS must be asymmetric"),
        ({"OIDC_DEFAULT_ROLE": "owner"}, "OIDC_DEFAULT_ROLE must be viewer, editor, admin"),
        (
            {"OIDC_DISCOVERY_URL": "file:///etc/passwd"},
            "OIDC_DISCOVERY_URL must be an http:// or https:// URL",
        ),
        ({"AUTH_TENANT": "a/b"}, "AUTH_TENANT must be a tenant ID"),
        ({"OIDC_RP_SCOPES": "email"}, "OIDC_RP_SCOPES must include openid"),
        ({"OIDC_WRITE_SCOPE": "a b"}, "OIDC_WRITE_SCOPE must be one scope"),
        ({"OIDC_LEEWAY": "1 minute"}, "OIDC_LEEWAY must be a duration"),
        ({"OIDC_LEEWAY": "-1s"}, "OIDC_LEEWAY must be zero or more"),
        ({"OIDC_GROUPS_MAP": "a="}, "OIDC_GROUPS_MAP entries must be value=group"),
    ],
)
def test_bad_sso_settings_stop_the_process_naming_the_variable(env, message, tmp_path, monkeypatch):
    monkeypatch.setenv("NANOMON_DATA_DIR", str(tmp_path))
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    with pytest.raises(ConfigError, match=re.escape(message)):
        runpy.run_path(str(ROOT / "nanomon" / "settings.py"))


def test_the_groups_map_takes_pairs_and_bare_names(tmp_path, monkeypatch):
    monkeypatch.setenv("NANOMON_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("OIDC_GROUPS_MAP", "/ops/admins=admin, CN=x=editor ,viewer")

    values = runpy.run_path(str(ROOT / "nanomon" / "settings.py"))

    assert values["OIDC_GROUPS_MAP"] == {
        "/ops/admins": "admin",
        "CN=x": "editor",
        "viewer": "viewer",
    }
    assert values["AUTHENTICATION_BACKENDS"] == [
        "accounts.backends.OidcBackend",
        "django.contrib.auth.backends.ModelBackend",
    ]
    assert values["OIDC_ALGORITHMS"][0] == "RS256"


def test_a_zero_leeway_allows_no_clock_skew(tmp_path, monkeypatch):
    monkeypatch.setenv("NANOMON_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("OIDC_LEEWAY", "0s")

    assert runpy.run_path(str(ROOT / "nanomon" / "settings.py"))["OIDC_LEEWAY"] == 0


def test_nanomons_variables_start_an_entra_id_setup(tmp_path):
    completed = run_check({"AUTH_CLIENT_ID": "abc", "AUTH_TENANT": TENANT}, tmp_path)

    assert completed.returncode == 0, completed.stderr
