"""Who may do what: personas against every route, public reads, secrets, tokens and sessions."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from lib.secrets_at_rest import open_sealed
from monitors.models import Monitor
from monitors.secrets import MASK
from tests.support.api import http_monitor, token_client
from tests.support.http_servers import refused_port
from tests.support.personas import user_with

pytestmark = pytest.mark.django_db

PERSONAS = ("admin", "editor", "viewer", "anonymous")


def closed_tcp_target() -> dict[str, str]:
    """A one-off check that fails at once: a local port nothing listens on."""
    return {"target": f"127.0.0.1:{refused_port()}"}


# (method, path, body, expected status for admin, editor, viewer, anonymous); {id} is a monitor.
ROUTES = [
    ("get", "/api/", None, (200, 200, 200, 401)),
    ("get", "/api/monitors", None, (200, 200, 200, 401)),
    ("post", "/api/monitors", http_monitor, (200, 200, 403, 401)),
    ("get", "/api/monitors/{id}", None, (200, 200, 200, 401)),
    ("put", "/api/monitors/{id}", http_monitor, (200, 200, 403, 401)),
    ("get", "/api/monitors/{id}/results", None, (200, 200, 200, 401)),
    ("get", "/api/results", None, (200, 200, 200, 401)),
    ("get", "/api/monitors/export", None, (200, 200, 200, 401)),
    ("post", "/api/monitors/import", lambda: [http_monitor()], (204, 204, 403, 401)),
    ("post", "/api/monitors/import?mode=replace", lambda: [], (204, 204, 403, 401)),
    ("post", "/api/monitors/test", closed_tcp_target, (200, 200, 403, 401)),
    ("post", "/api/monitors/{id}/test", None, (200, 200, 403, 401)),
    ("delete", "/api/results", None, (204, 204, 403, 401)),
    ("delete", "/api/monitors/{id}", None, (204, 204, 403, 401)),
    ("delete", "/api/monitors", None, (204, 204, 403, 401)),
    ("options", "/api/monitors", None, (200, 200, 200, 401)),
    ("head", "/api/results", None, (200, 200, 200, 401)),
    ("get", "/api/schema/", None, (200, 200, 200, 200)),
    ("get", "/api/docs/", None, (200, 200, 200, 200)),
]


@pytest.mark.parametrize("persona", PERSONAS)
def test_each_persona_gets_the_expected_status_on_every_route(
    personas, make_monitor, persona, tests_worker
):
    client = personas[persona]
    for method, template, body, expected in ROUTES:
        monitor = make_monitor(target=f"http://127.0.0.1:{refused_port()}/")  # some routes delete
        path = template.format(id=monitor.id)

        response = getattr(client, method)(path, body() if body else None, format="json")

        wanted = expected[PERSONAS.index(persona)]
        assert response.status_code == wanted, (method, path, response.content[:300])


def test_public_read_lets_anonymous_read_but_never_write(anonymous, public_read, make_monitor):
    monitor = make_monitor()

    assert anonymous.get("/api/monitors").status_code == 200
    assert anonymous.get(f"/api/monitors/{monitor.id}").status_code == 200
    assert anonymous.get(f"/api/monitors/{monitor.id}/results").status_code == 200
    assert anonymous.get("/api/results").status_code == 200
    assert anonymous.get("/api/monitors/export").status_code == 200
    assert anonymous.post("/api/monitors", http_monitor(), format="json").status_code == 401
    assert anonymous.delete("/api/results").status_code == 401
    assert anonymous.delete(f"/api/monitors/{monitor.id}").status_code == 401


def test_reads_need_a_signed_in_user_by_default(anonymous, make_monitor):
    make_monitor()

    response = anonymous.get("/api/monitors")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_deleting_results_needs_the_result_delete_permission(db):
    user = user_with("monitors-only", ["monitors.delete_monitor", "monitors.add_monitor"])

    response = token_client(user).delete("/api/results")

    assert response.status_code == 403


def test_replace_import_also_needs_the_delete_permission(db, make_monitor):
    make_monitor(name="kept")
    client = token_client(user_with("adder", ["monitors.add_monitor"]))

    appended = client.post("/api/monitors/import", [http_monitor(name="new")], format="json")
    replaced = client.post(
        "/api/monitors/import?mode=replace", [http_monitor(name="new")], format="json"
    )

    assert appended.status_code == 204
    assert replaced.status_code == 403
    assert replaced.json()["detail"] == "mode=replace also needs permission to delete monitors"
    assert sorted(Monitor.objects.values_list("name", flat=True)) == ["kept", "new"]


def test_the_test_action_is_allowed_with_either_the_add_or_the_change_permission(db, tests_worker):
    closed = {"target": f"127.0.0.1:{refused_port()}"}
    for permission in ("monitors.add_monitor", "monitors.change_monitor"):
        client = token_client(user_with(permission.split(".")[1], [permission]))
        assert client.post("/api/monitors/test", closed, format="json").status_code == 200
    deleter = token_client(user_with("deleter", ["monitors.delete_monitor"]))
    assert deleter.post("/api/monitors/test", closed, format="json").status_code == 403


# --- Secrets -----------------------------------------------------------------------------------

SECRET_HEADERS = '{"Authorization": "Bearer s3cret", "Accept": "text/plain"}'
MASKED_HEADERS = f'{{"Authorization": "{MASK}", "Accept": "{MASK}"}}'


@pytest.fixture
def secret_monitor(make_monitor):
    return make_monitor(name="private", properties={"headers": SECRET_HEADERS, "timeout": "2s"})


@pytest.mark.parametrize(
    ("persona", "headers"),
    [
        ("admin", SECRET_HEADERS),
        ("editor", SECRET_HEADERS),
        ("viewer", MASKED_HEADERS),
        ("anonymous", MASKED_HEADERS),
    ],
)
def test_secret_properties_are_shown_in_full_only_to_those_who_may_change_monitors(
    personas, public_read, secret_monitor, persona, headers
):
    client = personas[persona]

    one = client.get(f"/api/monitors/{secret_monitor.id}").json()
    listed = client.get("/api/monitors").json()[0]
    exported = client.get("/api/monitors/export").json()[0]

    for body in (one, listed, exported):
        assert body["properties"] == {"headers": headers, "timeout": "2s"}


def test_a_masked_secret_put_back_unchanged_keeps_the_stored_secret(editor, secret_monitor):
    body = http_monitor(name="renamed", properties={"headers": MASKED_HEADERS, "timeout": "2s"})

    response = editor.put(f"/api/monitors/{secret_monitor.id}", body, format="json")

    assert response.status_code == 200, response.content
    secret_monitor.refresh_from_db()
    assert secret_monitor.name == "renamed"
    assert open_sealed(secret_monitor.properties["headers"]) == SECRET_HEADERS


def test_a_masked_header_keeps_its_secret_while_other_headers_change(editor, secret_monitor):
    headers = f'{{"Authorization": "{MASK}", "X-Extra": "1"}}'
    body = http_monitor(properties={"headers": headers})

    editor.put(f"/api/monitors/{secret_monitor.id}", body, format="json")

    secret_monitor.refresh_from_db()
    assert open_sealed(secret_monitor.properties["headers"]) == (
        '{"Authorization": "Bearer s3cret", "X-Extra": "1"}'
    )


def test_a_new_secret_value_replaces_the_stored_one(editor, secret_monitor):
    body = http_monitor(properties={"headers": '{"Authorization": "Bearer new"}'})

    editor.put(f"/api/monitors/{secret_monitor.id}", body, format="json")

    secret_monitor.refresh_from_db()
    assert open_sealed(secret_monitor.properties["headers"]) == '{"Authorization": "Bearer new"}'


# --- Tokens and sessions -----------------------------------------------------------------------


def test_drf_create_token_makes_a_token_that_the_api_accepts(editor_user):
    output = io.StringIO()

    call_command("drf_create_token", "editor", stdout=output)

    key = Token.objects.get(user=editor_user).key
    assert key in output.getvalue()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/monitors").status_code == 200


def test_a_token_created_in_the_admin_works_and_revoking_it_there_locks_it_out(
    admin_client, viewer_user
):
    added = admin_client.post("/admin/authtoken/tokenproxy/add/", {"user": viewer_user.pk})
    assert added.status_code == 302, added.content.decode()[:2000]
    key = Token.objects.get(user=viewer_user).key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/monitors").status_code == 200
    assert key in admin_client.get("/admin/authtoken/tokenproxy/").content.decode()

    revoked = admin_client.post(
        f"/admin/authtoken/tokenproxy/{viewer_user.pk}/delete/", {"post": "yes"}
    )

    assert revoked.status_code == 302
    assert not Token.objects.filter(user=viewer_user).exists()
    assert client.get("/api/monitors").status_code == 401


def test_a_session_can_read_and_its_writes_need_the_csrf_token(editor_user):
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username="editor", password="correct horse battery")

    assert client.get("/api/monitors").status_code == 200
    refused = client.post("/api/monitors", http_monitor(), format="json")
    assert refused.status_code == 403
    assert refused.json()["detail"].startswith("CSRF Failed")

    client.get("/api/auth/login/")  # any page with a form sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    accepted = client.post("/api/monitors", http_monitor(), format="json", HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 200


def test_a_token_request_needs_no_csrf_token(editor_user):
    client = token_client(editor_user)
    client.handler.enforce_csrf_checks = True

    assert client.post("/api/monitors", http_monitor(), format="json").status_code == 200


def test_a_masked_secret_that_matches_nothing_stored_is_refused(editor, make_monitor):
    monitor = make_monitor(properties={})
    body = http_monitor(properties={"headers": MASKED_HEADERS})

    response = editor.put(f"/api/monitors/{monitor.id}", body, format="json")
    created = editor.post("/api/monitors", body, format="json")

    for refused in (response, created):
        assert refused.status_code == 400
        assert refused.json()["detail"].startswith("property 'headers' holds a masked secret")
