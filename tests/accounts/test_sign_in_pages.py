"""The sign-in page's provider option, the start and callback of the code flow, the
single-sign-on-only mode, and signing out of the provider."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.accounts.conftest import WEB_SECRET

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser_sso(settings, oidc):
    """Browser sign-in with the test provider (discovered: it serves the endpoints)."""
    settings.OIDC_RP_CLIENT_SECRET = WEB_SECRET
    settings.OIDC_DISCOVERY_URL = oidc.url("/.well-known/openid-configuration")
    settings.OIDC_PROVIDER_NAME = "Keycloak"
    return oidc


@pytest.fixture
def sso_only(settings, browser_sso):
    settings.OIDC_LOCAL_LOGIN = False
    settings.AUTHENTICATION_BACKENDS = ["accounts.backends.OidcBackend"]
    return browser_sso


def test_the_sign_in_page_offers_the_provider_below_the_password_form(client, browser_sso):
    page = client.get("/login?next=/monitors/3").content.decode()

    assert 'name="password"' in page
    assert "Sign in with Keycloak</a>" in page
    assert 'href="/oidc/authenticate/?next=/monitors/3"' in page


def test_without_a_provider_the_sign_in_page_is_as_before(client):
    page = client.get("/login").content.decode()

    assert 'name="password"' in page
    assert "Sign in with" not in page


def test_bearer_only_configuration_offers_no_browser_sign_in(client, oidc):
    assert "Sign in with" not in client.get("/login").content.decode()
    assert client.get("/oidc/authenticate/").status_code == 404
    assert client.get("/oidc/callback/?code=x&state=y").status_code == 404


def test_starting_sign_in_sends_the_browser_to_the_provider_with_pkce(client, browser_sso):
    response = client.get("/oidc/authenticate/?next=/results")

    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == browser_sso.url("/authorize")
    query = {name: values[0] for name, values in parse_qs(target.query).items()}
    assert query["client_id"] == "nanomon"
    assert query["response_type"] == "code"
    assert query["scope"] == "openid email profile"
    assert query["redirect_uri"] == "http://testserver/oidc/callback/"
    assert query["code_challenge_method"] == "S256"
    assert len(query["state"]) >= 32
    assert len(query["nonce"]) >= 32
    assert client.session["oidc_login_next"] == "/results"


def test_an_unreachable_provider_is_a_message_not_an_error_page(client, browser_sso):
    browser_sso.up = False

    response = client.get("/oidc/authenticate/", follow=True)

    assert response.redirect_chain[-1][0] == "/login"
    assert "Keycloak cannot be reached right now" in response.content.decode()


@pytest.mark.parametrize(
    "query",
    ["code=abc&state=never-issued", "error=access_denied&state=x", "code=abc"],
)
def test_a_failed_callback_returns_to_the_sign_in_page_with_a_message(client, browser_sso, query):
    client.get("/oidc/authenticate/")  # a sign-in in progress

    response = client.get(f"/oidc/callback/?{query}", follow=True)

    assert response.redirect_chain[-1][0] == "/login"
    assert "Single sign-on did not sign you in" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_password_sign_in_still_works_next_to_the_provider(client, browser_sso):
    User.objects.create_user("local", password="correct horse battery")

    response = client.post("/login", {"username": "local", "password": "correct horse battery"})

    assert response.status_code == 302
    assert client.session["_auth_user_id"]


# --- Single sign-on only -----------------------------------------------------------------------


def test_sso_only_shows_the_provider_and_no_password_form(client, sso_only):
    page = client.get("/login?next=/results").content.decode()

    assert "Sign in with Keycloak</a>" in page
    assert 'href="/oidc/authenticate/?next=/results"' in page
    assert 'name="password"' not in page


def test_sso_only_refuses_passwords_everywhere(client, sso_only):
    User.objects.create_superuser("root", password="correct horse battery")
    credentials = {"username": "root", "password": "correct horse battery"}

    assert client.post("/login", credentials).status_code == 405
    client.post("/admin/login/?next=/admin/", credentials)
    client.post("/api/auth/login/", credentials)

    assert "_auth_user_id" not in client.session
    assert not Client().login(**credentials)


# --- Signing out -------------------------------------------------------------------------------


def test_signing_out_of_a_provider_session_ends_the_providers_session(client, browser_sso):
    user = User.objects.create_user("alice")
    client.force_login(user, backend="accounts.backends.OidcBackend")
    session = client.session
    session["oidc_id_token"] = "header.claims.signature"
    session.save()

    response = client.post("/logout")

    target = urlsplit(response["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == browser_sso.url("/logout")
    assert parse_qs(target.query) == {
        "id_token_hint": ["header.claims.signature"],
        "post_logout_redirect_uri": ["http://testserver/login"],
        "client_id": ["nanomon"],
    }
    assert "_auth_user_id" not in client.session


def test_signing_out_of_a_password_session_stays_local(client, browser_sso):
    client.force_login(User.objects.create_user("local"))

    response = client.post("/logout")

    assert response["Location"] == "/login"
