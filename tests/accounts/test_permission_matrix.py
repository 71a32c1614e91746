"""Every API route for every way in: anonymous, the three roles (signed in by session), a DRF
token, and bearer tokens with and without the write scope, with single sign-on on."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.roles import role_group
from tests.accounts import test_permissions
from tests.accounts.conftest import bearer_client
from tests.accounts.test_permissions import closed_tcp_target
from tests.support.api import http_monitor, token_client
from tests.support.http_servers import refused_port

pytestmark = pytest.mark.django_db

PERSONAS = ("anonymous", "viewer", "editor", "admin", "token", "bearer", "bearer-read")

# What each persona gets from a route that reads, writes, or is open to all; "ok" is the
# route's success status.
OUTCOMES = {
    "read": {"anonymous": 401, "viewer": "ok", "editor": "ok", "admin": "ok", "token": "ok",
             "bearer": "ok", "bearer-read": "ok"},
    "write": {"anonymous": 401, "viewer": 403, "editor": "ok", "admin": "ok", "token": "ok",
              "bearer": "ok", "bearer-read": 401},
    "open": dict.fromkeys(PERSONAS, "ok"),
}  # fmt: skip

# (method, path, body, kind, success status); {id} is a monitor.
ROUTES = [
    ("get", "/api/", None, "read", 200),
    ("get", "/api/monitors", None, "read", 200),
    ("post", "/api/monitors", http_monitor, "write", 200),
    ("get", "/api/monitors/{id}", None, "read", 200),
    ("put", "/api/monitors/{id}", http_monitor, "write", 200),
    ("get", "/api/monitors/{id}/results", None, "read", 200),
    ("get", "/api/results", None, "read", 200),
    ("get", "/api/monitors/export", None, "read", 200),
    ("post", "/api/monitors/import", lambda: [http_monitor()], "write", 204),
    ("post", "/api/monitors/import?mode=replace", lambda: [], "write", 204),
    ("post", "/api/monitors/test", closed_tcp_target, "write", 200),
    ("post", "/api/monitors/{id}/test", None, "write", 200),
    ("delete", "/api/results", None, "write", 204),
    ("delete", "/api/monitors/{id}", None, "write", 204),
    ("delete", "/api/monitors", None, "write", 204),
    ("options", "/api/monitors", None, "read", 200),
    ("head", "/api/results", None, "read", 200),
    ("get", "/api/schema/", None, "open", 200),
    ("get", "/api/docs/", None, "open", 200),
]


def session_client(username: str, role: str) -> APIClient:
    user = User.objects.create_user(username)
    user.groups.add(role_group(role))
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def clients(oidc, make_token) -> dict[str, APIClient]:
    token_user = User.objects.create_user("script")
    token_user.groups.add(role_group("editor"))
    return {
        "anonymous": APIClient(),
        "viewer": session_client("vera", "viewer"),
        "editor": session_client("ed", "editor"),
        "admin": session_client("ada", "admin"),
        "token": token_client(token_user),
        "bearer": bearer_client(make_token(sub="ci-pipeline", scope="system.admin")),
        "bearer-read": bearer_client(make_token(sub="dashboard-tv", scope="monitors.read")),
    }


def test_the_matrix_covers_every_route_of_the_api_permission_tests():
    covered = {(method, path) for method, path, *_ in ROUTES}

    assert covered >= {(method, path) for method, path, *_ in test_permissions.ROUTES}


@pytest.mark.parametrize("persona", PERSONAS)
def test_each_persona_gets_the_expected_status_on_every_route(
    clients, make_monitor, persona, tests_worker
):
    client = clients[persona]
    for method, template, body, kind, success in ROUTES:
        monitor = make_monitor(target=f"http://127.0.0.1:{refused_port()}/")  # some routes delete
        path = template.format(id=monitor.id)

        response = getattr(client, method)(path, body() if body else None, format="json")

        wanted = OUTCOMES[kind][persona]
        wanted = success if wanted == "ok" else wanted
        assert response.status_code == wanted, (persona, method, path, response.content[:300])
        if wanted == 401:
            assert response["WWW-Authenticate"].startswith('Bearer realm="nanomon"')
        if persona == "bearer-read" and wanted == 401:
            assert 'error="insufficient_scope"' in response["WWW-Authenticate"]


def test_a_scoped_bearer_write_is_allowed_without_permission_queries(clients, make_monitor):
    """The OIDC backend answers a write scope first; the model backend's permission tables
    are never read for it."""
    monitor = make_monitor()

    with CaptureQueriesContext(connection) as queries:
        response = clients["bearer"].delete(f"/api/monitors/{monitor.id}")

    assert response.status_code == 204
    assert [q["sql"] for q in queries.captured_queries if "auth_permission" in q["sql"]] == []
