"""Secret monitor properties at rest (docs/security.md): stored sealed (``enc:v1:…``) in the
properties column and in ``listed_json`` (the PostgreSQL trigger's copy), opened only by the
probe's parse (a real server checks the Authorization header it gets), masked for readers who
may not see them (header names kept), opened for those who may, never shown sealed; a key that
opens nothing gives a Failed run saying so and a start check naming the rows; the migration
seals what was stored in plaintext."""

from __future__ import annotations

import importlib
import json

import pytest
from aiohttp import web
from cryptography.fernet import Fernet
from django.apps import apps as django_apps
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection
from django.urls import reverse

from alerts.secrets_store import stored_secrets_problem
from lib.secrets_at_rest import PREFIX, Keyring
from monitors.engine import CheckRequest, CheckStatus, run_checks_sync
from monitors.models import Monitor
from monitors.oneoff import request_to_json
from monitors.secrets import MASK
from tests.support.http_servers import serve_app

TOKEN = "Bearer s3cret-t0ken-for-the-probe"
HEADERS = json.dumps({"Authorization": TOKEN, "X-Trace": "visible-name"})
BODY = "user=bot&password=hunter2-body"
KEY_ONE, KEY_TWO = Fernet.generate_key().decode(), Fernet.generate_key().decode()


@pytest.fixture(autouse=True)
def one_key(settings):
    settings.NANOMON_SECRETS_KEYS = (KEY_ONE,)
    settings.NANOMON_SECRETS_KEY_DERIVED = False


def guarded_app() -> web.Application:
    """200 only for the right Authorization header, 401 otherwise."""

    async def guarded(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != TOKEN:
            return web.Response(status=401, text="who are you?")
        return web.Response(text="welcome")

    app = web.Application()
    app.router.add_route("*", "/guarded", guarded)
    return app


def raw_row(monitor_id: int) -> tuple[str, str]:
    """The stored properties column and listed_json, as PostgreSQL holds them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT properties::text, listed_json FROM monitors_monitor WHERE id = %s",
            [monitor_id],
        )
        return cursor.fetchone()


def guarded_monitor(make_monitor, url: str) -> Monitor:
    return make_monitor(
        name="guarded",
        target=url,
        rule="status == 200",
        properties={"headers": HEADERS, "method": "POST", "body": BODY},
    )


@pytest.mark.django_db
def test_the_database_holds_no_plaintext_secret_and_the_probe_gets_it(make_monitor):
    with serve_app(guarded_app()) as server:
        monitor = guarded_monitor(make_monitor, server.url("/guarded"))
        properties, listed = raw_row(monitor.pk)
        request = Monitor.objects.get(pk=monitor.pk).check_request()
        [result] = run_checks_sync([request], 1)

    for stored in (properties, listed):
        assert "s3cret-t0ken" not in stored
        assert "hunter2-body" not in stored
        assert "Authorization" not in stored  # the whole value is sealed, header names too
        assert stored.count(PREFIX) == 2  # headers and body
    assert json.loads(properties)["method"] == "POST"  # other properties as written
    assert request.properties["headers"].startswith(PREFIX)  # sealed until the probe parses it
    assert (result.status, result.outputs["status"]) == (CheckStatus.OK, 200), result.message


@pytest.mark.django_db
def test_a_test_now_task_carries_the_secret_sealed_and_the_probe_opens_it():
    with serve_app(guarded_app()) as server:
        request = CheckRequest(
            kind="http", target=server.url("/guarded"), properties={"headers": HEADERS}
        )
        carried = request_to_json(request)  # what the broker holds
        [result] = run_checks_sync([CheckRequest(**carried)], 1)

    assert "s3cret-t0ken" not in json.dumps(carried)
    assert carried["properties"]["headers"].startswith(PREFIX)
    assert result.status == CheckStatus.OK, result.message


@pytest.mark.django_db
def test_readers_see_masks_editors_the_secret_and_nobody_the_sealed_value(
    make_monitor, viewer, editor
):
    monitor = guarded_monitor(make_monitor, "http://127.0.0.1:9/guarded")
    masked = {"Authorization": MASK, "X-Trace": MASK}

    for path in (f"/api/monitors/{monitor.pk}", "/api/monitors", "/api/monitors/export"):
        shown = viewer.get(path).json()
        item = shown if isinstance(shown, dict) else shown[0]
        assert json.loads(item["properties"]["headers"]) == masked, path
        assert item["properties"]["body"] == MASK
        revealed = editor.get(path).json()
        item = revealed if isinstance(revealed, dict) else revealed[0]
        assert item["properties"]["headers"] == HEADERS, path
        assert item["properties"]["body"] == BODY
        for body in (viewer.get(path).content, editor.get(path).content):
            assert PREFIX.encode() not in body, path


@pytest.mark.django_db
def test_a_masked_secret_sent_back_keeps_the_stored_one(make_monitor, viewer, editor):
    monitor = guarded_monitor(make_monitor, "http://127.0.0.1:9/guarded")
    sealed = Monitor.objects.get(pk=monitor.pk).properties["headers"]
    body = viewer.get(f"/api/monitors/{monitor.pk}").json()
    body["name"] = "renamed"

    response = editor.put(f"/api/monitors/{monitor.pk}", body, format="json")

    assert response.status_code == 200, response.content
    assert editor.get(f"/api/monitors/{monitor.pk}").json()["properties"]["headers"] == HEADERS
    assert Monitor.objects.get(pk=monitor.pk).properties["headers"] == sealed


@pytest.mark.django_db
def test_a_key_that_opens_nothing_fails_the_run_clearly_and_the_start_check_stops(
    make_monitor, settings, viewer, editor
):
    monitor = guarded_monitor(make_monitor, "http://127.0.0.1:9/guarded")
    settings.NANOMON_SECRETS_KEYS = (KEY_TWO,)

    [result] = run_checks_sync([Monitor.objects.get(pk=monitor.pk).check_request()], 1)

    assert result.status == CheckStatus.FAILED
    assert result.message == (
        "property 'body': the secret cannot be decrypted: no key in NANOMON_SECRETS_KEY opens it"
    )
    # Pages and the API still answer: masks for everyone, no value, no error.
    assert viewer.get(f"/api/monitors/{monitor.pk}").json()["properties"]["body"] == MASK
    assert editor.get(f"/api/monitors/{monitor.pk}").json()["properties"]["body"] == MASK
    problem = stored_secrets_problem()
    assert problem.startswith(
        "stored secrets cannot be decrypted with any key of NANOMON_SECRETS_KEY: "
        f"1 monitor(s) (ids {monitor.pk})"
    )
    with pytest.raises(SystemCheckError, match=r"nanomon\.E001"):
        call_command("check", "--database", "default")
    settings.NANOMON_SECRETS_KEYS = (KEY_TWO, KEY_ONE)
    assert stored_secrets_problem() is None
    call_command("check", "--database", "default")


@pytest.mark.django_db
def test_the_migration_seals_what_was_stored_in_plaintext(make_monitor):
    monitor = make_monitor(name="old", properties={"headers": HEADERS, "timeout": "5s"})
    plain = {"headers": HEADERS, "timeout": "5s"}
    Monitor.objects.filter(pk=monitor.pk).update(properties=plain)  # as before the migration
    assert "s3cret-t0ken" in raw_row(monitor.pk)[0]
    migration = importlib.import_module("monitors.migrations.0006_seal_secret_properties")

    migration.seal(django_apps, None)

    properties, listed = raw_row(monitor.pk)
    assert "s3cret-t0ken" not in properties
    assert "s3cret-t0ken" not in listed
    stored = json.loads(properties)
    assert stored["timeout"] == "5s"
    assert Keyring([KEY_ONE]).open(stored["headers"]) == HEADERS
    migration.seal(django_apps, None)  # again: nothing sealed twice
    assert json.loads(raw_row(monitor.pk)[0]) == stored
    migration.unseal(django_apps, None)  # the way back
    assert json.loads(raw_row(monitor.pk)[0]) == plain


@pytest.mark.django_db
def test_the_admin_shows_the_sealed_form_and_saving_it_back_keeps_the_secret(
    make_monitor, admin_client
):
    monitor = guarded_monitor(make_monitor, "http://127.0.0.1:9/guarded")
    url = reverse("admin:monitors_monitor_change", args=[monitor.pk])
    page = admin_client.get(url).content.decode()
    stored = Monitor.objects.get(pk=monitor.pk).properties
    assert "s3cret-t0ken" not in page
    assert stored["headers"] in page

    response = admin_client.post(
        url,
        {
            "name": "guarded, renamed",
            "kind": "http",
            "target": monitor.target,
            "interval": "30s",
            "rule": monitor.rule,
            "enabled": "on",
            "properties": json.dumps({**stored, "body": "typed in plaintext"}),
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    saved = Monitor.objects.get(pk=monitor.pk)
    assert saved.name == "guarded, renamed"
    assert saved.properties["headers"] == stored["headers"]
    assert Keyring([KEY_ONE]).open(saved.properties["body"]) == "typed in plaintext"
    assert "typed in plaintext" not in raw_row(monitor.pk)[0]
