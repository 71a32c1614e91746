"""End to end against a real OpenID provider (oidc-provider on Node.js, on loopback): people
sign in with the code flow and out again; programs call the API with the provider's tokens.

The browser variant (Chromium) is ``test_browser.py``; here an HTTP session plays the browser,
so these run wherever Node.js does.
"""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from django.contrib.auth.models import User

from accounts.models import OidcIdentity
from monitors.models import Monitor
from tests.accounts.conftest import ROBOT_SECRET, bearer_client
from tests.support.api import http_monitor

pytestmark = pytest.mark.django_db(transaction=True)


def form_action(page: requests.Response) -> str:
    return urljoin(page.url, unescape(re.search(r'<form[^>]*action="([^"]+)"', page.text)[1]))


def hidden_fields(page: requests.Response) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))


# --- Programs ----------------------------------------------------------------------------------


def test_a_program_writes_with_a_client_credentials_token(sso):
    token = sso.client_credentials_token(
        "robot", ROBOT_SECRET, resource="api://nanomon", scope="system.admin"
    )

    robot = bearer_client(token)

    created = robot.post("/api/monitors", http_monitor(name="from robot"), format="json")

    assert created.status_code == 200, created.content
    assert Monitor.objects.get().name == "from robot"
    identity = OidcIdentity.objects.get(subject="robot")
    assert identity.issuer == sso.issuer
    assert identity.user.username == "robot"


def test_a_token_for_another_api_of_the_same_provider_is_refused(sso):
    token = sso.client_credentials_token(
        "robot", ROBOT_SECRET, resource="api://other-app", scope="system.admin"
    )

    response = bearer_client(token).get("/api/monitors")

    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]
    assert (
        response.json()["detail"] == "bearer token refused: the token is meant for another audience"
    )


def test_a_token_without_the_write_scope_only_reads(sso):
    token = sso.client_credentials_token(
        "robot", ROBOT_SECRET, resource="api://nanomon", scope="monitors.read"
    )

    assert bearer_client(token).get("/api/monitors").status_code == 200
    refused = bearer_client(token).delete("/api/monitors")
    assert refused.status_code == 401
    assert 'error="insufficient_scope", ' in refused["WWW-Authenticate"]


# --- People ------------------------------------------------------------------------------------


def test_a_person_signs_in_with_the_provider_and_out_of_both(sso, live_server):
    browser = requests.Session()
    sign_in_page = browser.get(f"{live_server.url}/login?next=/about")
    assert "Sign in with Test IdP" in sign_in_page.text
    assert 'href="/oidc/authenticate/?next=/about"' in sign_in_page.text

    provider_login = browser.get(f"{live_server.url}/oidc/authenticate/?next=/about")
    assert provider_login.url.startswith(sso.url("/interaction/"))
    landed = browser.post(
        form_action(provider_login), data={"prompt": "login", "login": "alice", "password": "x"}
    )

    assert landed.url == f"{live_server.url}/about"
    assert "Signed in as <strong>alice</strong>" in landed.text
    alice = User.objects.get(oidc_identities__subject="alice")
    assert (alice.email, alice.first_name, alice.last_name) == (
        "alice@example.com",
        "Alice",
        "Liddell",
    )
    assert sorted(alice.groups.values_list("name", flat=True)) == ["editor", "viewer"]

    signed_out = browser.post(
        f"{live_server.url}/logout",
        data={"csrfmiddlewaretoken": browser.cookies["csrftoken"]},
        allow_redirects=False,
    )
    location = urlsplit(signed_out.headers["Location"])
    assert signed_out.status_code == 302
    assert f"{location.scheme}://{location.netloc}{location.path}" == sso.url("/session/end")
    query = parse_qs(location.query)
    assert query["post_logout_redirect_uri"] == [f"{live_server.url}/login"]
    assert query["id_token_hint"][0].count(".") == 2
    confirm = browser.get(signed_out.headers["Location"])
    back = browser.post(form_action(confirm), data={**hidden_fields(confirm), "logout": "yes"})

    assert back.url == f"{live_server.url}/login"
    assert "Signed in as" not in back.text
    # The provider's session ended too: signing in asks for the login again.
    again = browser.get(f"{live_server.url}/oidc/authenticate/")
    assert again.url.startswith(sso.url("/interaction/"))
    assert 'name="login"' in again.text


def test_the_next_sign_in_maps_the_groups_claim_again(sso, live_server, settings):
    def sign_in(login: str) -> requests.Response:
        browser = requests.Session()
        page = browser.get(f"{live_server.url}/oidc/authenticate/")
        return browser.post(form_action(page), data={"prompt": "login", "login": login, "pw": ""})

    sign_in("alice")
    settings.OIDC_GROUPS_MAP = {"nanomon-editors": "editor", "wonderland": "admin"}

    landed = sign_in("alice")

    assert landed.url == f"{live_server.url}/"
    alice = User.objects.get(oidc_identities__subject="alice")
    assert sorted(alice.groups.values_list("name", flat=True)) == ["admin", "editor", "viewer"]
    assert alice.is_staff
    assert User.objects.filter(oidc_identities__isnull=False).count() == 1
