"""While the database cannot be reached, the API answers 503 with a problem body, not 500."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client

from tests.support.http_servers import refused_port


@pytest.fixture
def database_down(django_db_blocker):
    """The default database points at a port where nothing listens, for this test."""
    with django_db_blocker.unblock():
        connection.close()
        saved = dict(connection.settings_dict)
        connection.settings_dict.update(
            HOST="127.0.0.1",
            PORT=str(refused_port()),
            OPTIONS={**saved.get("OPTIONS", {}), "connect_timeout": 2},
        )
        try:
            yield
        finally:
            connection.close()
            connection.settings_dict.clear()
            connection.settings_dict.update(saved)


def assert_unavailable_problem(response, path: str) -> None:
    assert response.status_code == 503, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json() == {
        "type": "about:blank",
        "title": "Service Unavailable",
        "status": 503,
        "detail": "the database is unavailable, try again shortly",
        "instance": path,
    }


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/monitors"),
        ("get", "/api/results"),
        ("post", "/api/monitors"),
        ("delete", "/api/monitors/1"),
    ],
)
def test_a_drf_view_answers_503_with_a_problem(database_down, method, path):
    client = Client(raise_request_exception=False)

    response = getattr(client, method)(
        path, content_type="application/json", HTTP_AUTHORIZATION="Token 0123456789abcdef"
    )

    assert_unavailable_problem(response, path)


def test_a_django_view_under_the_api_answers_503_with_a_problem(database_down):
    """The browsable API's sign-in is a plain Django view: its error reaches handler500."""
    client = Client(raise_request_exception=False)

    response = client.post("/api/auth/login/", {"username": "admin", "password": "secret"})

    assert_unavailable_problem(response, "/api/auth/login/")


def test_the_error_names_no_server_to_the_client(database_down, caplog):
    response = Client(raise_request_exception=False).get(
        "/api/monitors", HTTP_AUTHORIZATION="Token 0123456789abcdef"
    )

    assert response.status_code == 503
    assert "127.0.0.1" not in response.content.decode()
    assert "database unavailable" in caplog.text  # the server's log says what happened
