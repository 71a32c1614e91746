"""Chromium (Debian's, driven by Playwright) signs in through the real provider's login page,
lands on the dashboard as the mapped user with the mapped group, calls the API with an access
token from the same provider, and signs out of both.

Nothing leaves loopback: every other request (the provider's login page imports a web font)
is aborted. Screenshots go to ``artifacts/screenshots/sso-*.png`` (git-ignored).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.contrib.auth.models import User

from accounts.models import OidcIdentity
from monitors.models import Monitor
from tests.accounts.provider import authorization_url, pkce_pair
from tests.support.api import http_monitor
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LOOPBACK = {"127.0.0.1", "localhost", "[::1]"}


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (apt-get install chromium)")
    # The ORM calls this thread makes while Playwright's loop runs are plain blocking calls.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    context.route(
        "**/*",
        lambda route: (
            route.continue_() if urlsplit(route.request.url).hostname in LOOPBACK else route.abort()
        ),
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"sso-{name}.png"), full_page=True)


def cli_access_token(page, provider, redirect, resource: str) -> str:
    """What a command-line tool does: the code flow with PKCE in the signed-in browser (no
    login again: the provider's session), the code received by its loopback listener."""
    verifier, challenge = pkce_pair()
    page.goto(
        authorization_url(
            provider,
            client_id="nanomon-cli",
            response_type="code",
            scope="openid system.admin",
            resource=resource,
            redirect_uri=redirect.url,
            code_challenge=challenge,
            code_challenge_method="S256",
            state="cli",
        )
    )
    sync_api.expect(page.locator("body")).to_have_text("Signed in: you may close this window.")
    code = parse_qs(urlsplit(redirect.received[-1]).query)["code"][0]
    response = requests.post(
        provider.url("/token"),
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect.url,
            "client_id": "nanomon-cli",
            "code_verifier": verifier,
            "resource": resource,
        },
        timeout=10,
    )
    response.raise_for_status()
    return response.json()["access_token"]


def test_sign_in_with_the_provider_then_call_the_api_with_its_token(
    page, sso, live_server, cli_redirect
):
    expect = sync_api.expect
    page.goto(f"{live_server.url}/login")
    shot(page, "1-sign-in-page")
    page.get_by_role("link", name="Sign in with Test IdP").click()

    page.wait_for_url(f"{sso.issuer}/interaction/**")
    page.fill('input[name="login"]', "alice")
    page.fill('input[name="password"]', "down the rabbit hole")
    shot(page, "2-provider-login")
    page.click('button[type="submit"]')

    page.wait_for_url(f"{live_server.url}/")
    expect(page.locator(".session .who")).to_have_text("Signed in as alice")
    expect(page.get_by_role("link", name="New", exact=True)).to_be_visible()  # an editor
    shot(page, "3-dashboard")
    alice = User.objects.get(oidc_identities__subject="alice", oidc_identities__issuer=sso.issuer)
    assert sorted(alice.groups.values_list("name", flat=True)) == ["editor", "viewer"]

    # A token from the same provider for the same person works on the API ...
    token = cli_access_token(page, sso, cli_redirect, "api://nanomon")
    created = requests.post(
        f"{live_server.url}/api/monitors",
        json=http_monitor(name="from alice's terminal"),
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert created.status_code == 200, created.text
    assert Monitor.objects.filter(name="from alice's terminal").exists()
    assert OidcIdentity.objects.filter(subject="alice").count() == 1  # the same user

    # ... and one for another API of that provider does not.
    other = cli_access_token(page, sso, cli_redirect, "api://other-app")
    refused = requests.get(
        f"{live_server.url}/api/monitors", headers={"Authorization": f"Bearer {other}"}, timeout=10
    )
    assert refused.status_code == 401
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]

    # Signing out ends the provider's session too.
    page.goto(f"{live_server.url}/")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{sso.issuer}/session/end**")
    shot(page, "4-provider-sign-out")
    page.get_by_role("button", name="Yes, sign me out").click()
    page.wait_for_url(f"{live_server.url}/login")
    expect(page.locator(".session .who")).to_have_count(0)
    page.get_by_role("link", name="Sign in with Test IdP").click()
    page.wait_for_url(f"{sso.issuer}/interaction/**")
    expect(page.locator('input[name="login"]')).to_be_visible()
