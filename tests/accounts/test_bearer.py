"""API bearer tokens, checked locally against the provider's published keys."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from accounts.models import OidcIdentity
from monitors.models import Monitor
from tests.accounts.conftest import CLIENT_ID, bearer_client, clear_provider_caches
from tests.support.api import http_monitor, token_client
from tests.support.personas import user_with

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def read(token: str):
    return bearer_client(token).get("/api/monitors")


def write(token: str):
    return bearer_client(token).post("/api/monitors", http_monitor(), format="json")


def assert_refused(response, error: str = "invalid_token", detail: str = "") -> None:
    assert response.status_code == 401, response.content
    challenge = response["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="nanomon", ')
    assert f'error="{error}"' in challenge
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == 401
    assert body["title"] == "Unauthorized"
    assert body["detail"].startswith("bearer token refused: ")
    assert detail in body["detail"]
    assert detail in challenge


# --- Accepted ----------------------------------------------------------------------------------


def test_a_valid_token_with_the_write_scope_reads_and_writes(oidc, make_token):
    token = make_token()

    assert read(token).status_code == 200
    created = write(token)

    assert created.status_code == 200, created.content
    assert Monitor.objects.filter(name="web").exists()


def test_an_ec_signed_token_is_accepted_too(oidc, make_token, ec_key):
    assert write(make_token(ec_key)).status_code == 200


@pytest.mark.parametrize("audience", [CLIENT_ID, f"api://{CLIENT_ID}", ["someone-else", CLIENT_ID]])
def test_the_audience_may_carry_nanomons_api_prefix_or_be_a_list(oidc, make_token, audience):
    assert read(make_token(aud=audience)).status_code == 200


def test_a_configured_api_audience_replaces_the_client_id(oidc, make_token, settings):
    settings.OIDC_API_AUDIENCE = ["https://nanomon.example.com/api"]

    assert read(make_token(aud="https://nanomon.example.com/api")).status_code == 200
    assert_refused(read(make_token(aud=CLIENT_ID)), detail="another audience")


@pytest.mark.parametrize(
    "scope_claims",
    [{"scp": "system.admin"}, {"scope": ["openid", "system.admin"]}, {"scope": "a system.admin"}],
)
def test_the_write_scope_is_read_from_scp_or_scope(oidc, make_token, scope_claims):
    token = make_token(**{"scope": None, **scope_claims})

    assert write(token).status_code == 200


def test_a_configured_write_scope_is_the_one_needed(oidc, make_token, settings):
    settings.OIDC_WRITE_SCOPE = "monitors.write"

    assert write(make_token(scope="monitors.write")).status_code == 200
    assert_refused(write(make_token(scope="system.admin")), "insufficient_scope")


def test_an_expiry_within_the_leeway_is_accepted(oidc, make_token):
    assert read(make_token(exp=int(time.time()) - 30)).status_code == 200


def test_a_token_stands_for_the_user_linked_to_its_issuer_and_subject(oidc, make_token):
    read(make_token(sub="robot-7"))
    read(make_token(sub="robot-7"))

    identity = OidcIdentity.objects.get(subject="robot-7")
    assert identity.issuer == oidc.issuer
    assert list(identity.user.groups.values_list("name", flat=True)) == ["viewer"]
    assert not identity.user.has_usable_password()
    assert User.objects.filter(oidc_identities__subject="robot-7").count() == 1


def test_the_scope_grants_writes_to_a_viewer_but_only_for_that_request(oidc, make_token):
    read(make_token(sub="person"))
    user = User.objects.get(oidc_identities__subject="person")
    assert not user.has_perm("monitors.add_monitor")

    assert write(make_token(sub="person")).status_code == 200

    assert not User.objects.get(pk=user.pk).has_perm("monitors.add_monitor")


def test_drf_tokens_and_sessions_keep_working_beside_bearer_tokens(oidc, make_token):
    editor = user_with("editor", ["monitors.add_monitor"])
    session = APIClient()
    session.force_login(editor)

    assert token_client(editor).post("/api/monitors", http_monitor(), format="json").status_code
    assert token_client(editor).get("/api/monitors").status_code == 200
    assert session.get("/api/monitors").status_code == 200
    assert read(make_token()).status_code == 200


# --- Refused -----------------------------------------------------------------------------------


def test_no_credentials_get_a_bearer_and_token_challenge(oidc):
    response = APIClient().get("/api/monitors")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="nanomon", Token'
    assert response["Content-Type"] == PROBLEM


def test_an_expired_token_is_refused(oidc, make_token):
    token = make_token(exp=int(time.time()) - 120)

    assert_refused(read(token), detail="the token has expired")


def test_a_token_not_valid_yet_is_refused(oidc, make_token):
    token = make_token(nbf=int(time.time()) + 600)

    assert_refused(read(token), detail="not valid yet")


def test_a_token_for_another_audience_is_refused(oidc, make_token):
    assert_refused(read(make_token(aud="api://another-app")), detail="another audience")


def test_a_token_from_another_issuer_is_refused(oidc, make_token):
    assert_refused(read(make_token(iss="https://evil.example")), detail="another issuer")


def test_a_token_without_the_write_scope_reads_but_may_not_write(oidc, make_token):
    token = make_token(scope="openid profile")

    assert read(token).status_code == 200
    response = write(token)

    assert_refused(response, "insufficient_scope", detail="writes need the system.admin scope")
    assert 'scope="system.admin"' in response["WWW-Authenticate"]
    assert not Monitor.objects.exists()


@pytest.mark.parametrize("request_token", [read, write])
def test_a_token_with_no_scope_claim_is_refused_never_a_500(oidc, make_token, request_token):
    token = make_token(scope=None)

    assert_refused(request_token(token), detail="no scope claim")


def test_a_scope_claim_of_the_wrong_type_is_refused(oidc, make_token):
    assert_refused(read(make_token(scope={"system.admin": True})), detail="scope claim")


@pytest.mark.parametrize("claim", ["exp", "sub", "iss", "aud"])
def test_a_token_missing_a_required_claim_is_refused(oidc, make_token, claim):
    assert_refused(read(make_token(**{claim: None})), detail=f"no {claim} claim")


def test_an_unsigned_alg_none_token_is_refused(oidc, make_token):
    claims = jwt.decode(make_token(), options={"verify_signature": False})
    token = jwt.encode(claims, None, algorithm="none", headers={"kid": "rsa-1"})

    assert_refused(write(token), detail="algorithm 'none' is not allowed")


def test_hs256_signed_with_the_providers_public_key_is_refused(oidc, make_token, rsa_key):
    claims = jwt.decode(make_token(), options={"verify_signature": False})
    header = base64.urlsafe_b64encode(
        json.dumps({"alg": "HS256", "typ": "JWT", "kid": rsa_key.kid}).encode()
    )
    body = base64.urlsafe_b64encode(json.dumps(claims).encode())
    signing_input = header.rstrip(b"=") + b"." + body.rstrip(b"=")
    signature = hmac.new(rsa_key.public_pem(), signing_input, hashlib.sha256).digest()
    token = (signing_input + b"." + base64.urlsafe_b64encode(signature).rstrip(b"=")).decode()

    assert_refused(write(token), detail="algorithm 'HS256' is not allowed")


def test_a_tampered_signature_is_refused(oidc, make_token):
    header, payload, signature = make_token().split(".")
    flipped = ("A" if signature[10] != "A" else "B").join((signature[:10], signature[11:]))

    assert_refused(read(f"{header}.{payload}.{flipped}"), detail="signature does not verify")


def test_a_tampered_payload_is_refused(oidc, make_token):
    header, _, signature = make_token(scope="openid").split(".")
    _, payload, _ = make_token(scope="system.admin").split(".")

    assert_refused(write(f"{header}.{payload}.{signature}"), detail="signature does not verify")


def test_a_key_of_the_right_id_but_the_wrong_type_is_refused(oidc, make_token, ec_key, rsa_key):
    # An EC key published as "rsa-1" cannot verify an RS256 token claiming that key id.
    oidc.keys = [ec_key.__class__(rsa_key.kid, "ES256", ec_key.private_key)]

    assert_refused(read(make_token()), detail="a key the provider does not publish")


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer a b", "Bearer not-a-jwt", "Bearer ünïcode", "bearer x.y.z"],
)
def test_malformed_bearer_credentials_are_refused(oidc, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    assert_refused(client.get("/api/monitors"))


def test_a_token_of_a_deactivated_user_is_refused(oidc, make_token):
    read(make_token(sub="leaver"))
    User.objects.filter(oidc_identities__subject="leaver").update(is_active=False)

    assert_refused(read(make_token(sub="leaver")), detail="deactivated")


def test_without_account_creation_an_unknown_subject_is_refused(oidc, make_token, settings):
    settings.OIDC_CREATE_USER = False

    assert_refused(read(make_token(sub="stranger")), detail="no NanoMon account")
    assert not User.objects.exists()


def test_an_unreachable_provider_is_a_503_not_the_tokens_fault(oidc, make_token):
    oidc.up = False

    response = read(make_token())

    assert response.status_code == 503
    assert response["Content-Type"] == PROBLEM
    assert "signing keys cannot be read" in response.json()["detail"]


def test_a_public_route_still_refuses_a_bad_token(oidc, make_token):
    response = bearer_client(make_token(aud="other")).get("/api/schema/?format=json")

    assert_refused(response)


# --- Signing keys ------------------------------------------------------------------------------


@pytest.fixture
def clock(monkeypatch) -> list[float]:
    """The signing-key cache's clock, in seconds; a test moves it with ``clock[0] += …``."""
    now = [1000.0]
    monkeypatch.setattr("accounts.jwks.monotonic", lambda: now[0])
    return now


def test_the_keys_are_fetched_once_and_reused(oidc, make_token):
    for _ in range(5):
        assert read(make_token()).status_code == 200

    assert oidc.fetches["/jwks"] == 1


def test_an_unknown_key_id_triggers_exactly_one_refresh(oidc, make_token, other_rsa_key):
    assert read(make_token()).status_code == 200  # keys fetched
    assert oidc.fetches["/jwks"] == 1

    assert_refused(read(make_token(other_rsa_key)), detail="a key the provider does not publish")
    assert oidc.fetches["/jwks"] == 2

    for _ in range(3):  # made-up key ids within the rate limit: no further fetch
        assert_refused(read(make_token(other_rsa_key, headers={"kid": "made-up"})))
    assert oidc.fetches["/jwks"] == 2


def test_a_rotated_key_is_picked_up_by_the_refresh(oidc, make_token, other_rsa_key, rsa_key):
    assert read(make_token()).status_code == 200
    oidc.keys = [rsa_key, other_rsa_key]  # the provider publishes a new key

    assert read(make_token(other_rsa_key)).status_code == 200
    assert oidc.fetches["/jwks"] == 2


def test_a_token_without_a_key_id_needs_the_one_key_that_could_have_signed_it(
    oidc, make_token, rsa_key, other_rsa_key
):
    claims = jwt.decode(make_token(), options={"verify_signature": False})
    token = jwt.encode(claims, rsa_key.private_key, algorithm="RS256")  # no "kid" header

    assert read(token).status_code == 200  # one RSA key and one EC key published
    oidc.keys = [rsa_key, other_rsa_key]
    clear_provider_caches()

    assert_refused(read(token), detail="a key the provider does not publish")


def test_refreshes_resume_once_the_rate_limit_has_passed(oidc, make_token, other_rsa_key, clock):
    read(make_token())
    read(make_token(other_rsa_key))  # refresh 1
    clock[0] += 10
    read(make_token(other_rsa_key))  # within 30 s: none
    assert oidc.fetches["/jwks"] == 2

    clock[0] += 25
    read(make_token(other_rsa_key))

    assert oidc.fetches["/jwks"] == 3


def test_an_unreachable_provider_is_not_asked_again_at_once(oidc, make_token, clock):
    oidc.up = False

    assert read(make_token()).status_code == 503
    assert read(make_token()).status_code == 503
    assert oidc.fetches["/jwks"] == 1
    clock[0] += 30
    oidc.up = True

    assert read(make_token()).status_code == 200
    assert oidc.fetches["/jwks"] == 2


def test_old_keys_are_refetched_after_the_cache_lifetime(oidc, make_token, clock):
    read(make_token())
    clock[0] += 3600

    assert read(make_token()).status_code == 200
    assert oidc.fetches["/jwks"] == 2


def test_known_keys_are_kept_while_the_provider_is_down(oidc, make_token, clock):
    read(make_token())
    clock[0] += 3600
    oidc.up = False

    assert read(make_token()).status_code == 200
    assert read(make_token()).status_code == 200
    assert oidc.fetches["/jwks"] == 2  # the failed refetch is not retried at once


# --- Off ---------------------------------------------------------------------------------------


def test_without_a_provider_bearer_headers_are_ignored_as_before(db, make_token):
    response = read(make_token())

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
