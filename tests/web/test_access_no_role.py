"""``OIDC_DEFAULT_ROLE=none``: a signed-in user without a role reads nothing, on the pages and
through the API (403 with a message saying why), while users with a role read as before."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from accounts.roles import NO_ROLE_DETAIL, VIEWER, role_group
from tests.support.personas import user_with

pytestmark = pytest.mark.django_db

READ_PAGES = [
    "/",
    "/monitors",
    "/monitors/{id}",
    "/dashboard",
    "/results",
    "/manage",
    "/manage/export",
    "/live/monitors",
]
API_READS = [
    "/api/",
    "/api/monitors",
    "/api/monitors/{id}",
    "/api/monitors/{id}/results",
    "/api/monitors/export",
    "/api/results",
]


@pytest.fixture
def no_default_role(settings):
    settings.OIDC_DEFAULT_ROLE = ""  # what OIDC_DEFAULT_ROLE=none leaves in the settings


@pytest.fixture
def roleless(db):
    return user_with("roleless", [])


@pytest.fixture
def monitor(make_monitor):
    return make_monitor(name="secret-host", target="http://internal.example:9/")


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.usefixtures("no_default_role")
@pytest.mark.parametrize("path", READ_PAGES)
def test_a_user_without_a_role_gets_a_403_page_saying_why(roleless, monitor, path):
    response = signed_in(roleless).get(path.format(id=monitor.id))

    assert response.status_code == 403
    page = response.content.decode()
    assert "has no role in NanoMon" in page
    assert "secret-host" not in page


@pytest.mark.usefixtures("no_default_role")
@pytest.mark.parametrize("path", API_READS)
def test_a_user_without_a_role_gets_a_403_problem_from_the_api(roleless, monitor, path):
    token = Token.objects.create(user=roleless)
    for client, headers in (
        (signed_in(roleless), {}),
        (Client(), {"Authorization": f"Token {token.key}"}),
    ):
        response = client.get(path.format(id=monitor.id), headers=headers)

        assert response.status_code == 403, response.content
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["detail"] == NO_ROLE_DETAIL
        assert b"secret-host" not in response.content


@pytest.mark.usefixtures("no_default_role")
def test_anonymous_callers_still_get_401_and_the_sign_in_page(monitor):
    assert Client().get("/api/monitors").status_code == 401
    assert Client().get("/monitors")["Location"].startswith("/login?next=")


@pytest.mark.usefixtures("no_default_role")
def test_a_role_given_later_lets_the_user_read(roleless, monitor):
    roleless.groups.add(role_group(VIEWER))

    assert signed_in(roleless).get("/monitors").status_code == 200
    assert signed_in(roleless).get("/api/monitors").status_code == 200


@pytest.mark.usefixtures("no_default_role")
def test_viewers_and_superusers_read_with_no_default_role(viewer_user, admin_user, monitor):
    for user in (viewer_user, admin_user):
        assert signed_in(user).get(f"/monitors/{monitor.id}").status_code == 200
        assert signed_in(user).get("/api/monitors").json()[0]["name"] == "secret-host"


@pytest.mark.usefixtures("no_default_role", "public_read")
def test_public_reads_are_public_to_users_without_a_role_too(roleless, monitor):
    assert signed_in(roleless).get("/monitors").status_code == 200
    assert signed_in(roleless).get("/api/monitors").status_code == 200


def test_with_a_default_role_every_signed_in_user_reads_as_before(settings, roleless, monitor):
    settings.OIDC_DEFAULT_ROLE = VIEWER

    assert signed_in(roleless).get("/monitors").status_code == 200
    assert signed_in(roleless).get("/api/monitors").status_code == 200


@pytest.mark.usefixtures("no_default_role")
def test_the_about_page_stays_open_and_offers_no_monitors_link(roleless):
    response = signed_in(roleless).get("/about")

    assert response.status_code == 200
