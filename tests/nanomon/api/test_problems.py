"""Every error is an RFC 7807 problem with the right status; no request of any shape is a 500."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

PROBLEM_FIELDS = {"type", "title", "status", "detail", "instance"}


def assert_problem(response, status: int, title: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert set(problem) == PROBLEM_FIELDS
    assert problem["status"] == status
    assert problem["title"] == title
    assert problem["type"] == "about:blank"
    assert isinstance(problem["detail"], str)
    assert problem["detail"]
    return problem


def test_an_unknown_api_route_is_a_404_problem_naming_the_path(admin):
    problem = assert_problem(admin.get("/api/nothing/here"), 404, "Not Found")

    assert problem["instance"] == "/api/nothing/here"
    assert problem["detail"] == "no such API route"


def test_a_trailing_slash_gets_a_404_that_says_where_the_route_is(admin):
    problem = assert_problem(admin.get("/api/monitors/"), 404, "Not Found")

    assert problem["detail"].endswith("use /api/monitors")


def test_pages_outside_the_api_keep_djangos_html_404(admin):
    response = Client().get("/no-such-page")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("patch", "/api/monitors/1"),
        ("put", "/api/monitors"),
        ("get", "/api/monitors/import"),
        ("delete", "/api/monitors/export"),
        ("get", "/api/monitors/test"),
        ("post", "/api/results"),
        ("put", "/api/monitors/1/results"),
    ],
)
def test_a_wrong_method_is_a_405_problem(admin, method, path):
    response = getattr(admin, method)(path, {}, format="json")

    problem = assert_problem(response, 405, "Method Not Allowed")
    assert method.upper() in problem["detail"]
    assert "Allow" in response.headers


@pytest.mark.parametrize(
    "body",
    ['{"name": "web",', "{'name': 'web'}", "", "nan", '{"value": NaN}', "[" * 100_000],
)
def test_malformed_json_is_a_400_problem(admin, body):
    response = admin.post("/api/monitors", body, content_type="application/json")

    if body == "":
        # An empty body is an empty object, as NanoMon's decoder sees it: the first check fails.
        assert assert_problem(response, 400, "Bad Request")["detail"] == "missing monitor name"
    else:
        assert assert_problem(response, 400, "Bad Request")["detail"].startswith("JSON parse")


def test_a_body_in_an_unknown_charset_is_a_400_problem(admin):
    response = admin.post("/api/monitors", b"{}", content_type="application/json; charset=bz2")

    assert_problem(response, 400, "Bad Request")


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_a_body_that_is_not_json_is_a_415_problem(admin, content_type):
    response = admin.post("/api/monitors", b"name=web", content_type=content_type)

    problem = assert_problem(response, 415, "Unsupported Media Type")
    assert content_type.split(";")[0] in problem["detail"]


def test_a_body_over_the_upload_limit_is_a_413_problem(admin, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = '{"name": "' + "x" * 2000 + '"}'

    response = admin.post("/api/monitors", body, content_type="application/json")

    assert_problem(response, 413, HTTPStatus(413).phrase)


def test_an_anonymous_write_is_a_401_problem_with_a_token_challenge(anonymous):
    response = anonymous.post("/api/monitors", {}, format="json")

    assert_problem(response, 401, "Unauthorized")
    assert response["WWW-Authenticate"] == "Token"


def test_a_bad_token_is_a_401_problem_even_for_reads(anonymous, public_read):
    anonymous.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    assert_problem(anonymous.get("/api/monitors"), 401, "Unauthorized")


def test_a_write_without_permission_is_a_403_problem(viewer):
    response = viewer.post("/api/monitors", {}, format="json")

    assert_problem(response, 403, "Forbidden")


def test_the_browsable_api_shows_errors_as_html_for_browsers(admin):
    response = admin.get("/api/monitors/abc", HTTP_ACCEPT="text/html")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert b"monitor id must be an integer" in response.content


def test_the_server_error_handler_answers_a_problem_under_the_api(rf):
    from nanomon.api.problems import api_server_error

    response = api_server_error(rf.get("/api/monitors"))

    assert response.status_code == 500
    assert response["Content-Type"] == "application/problem+json"
