"""Who may read /metrics and the details of /api/status: the scrape credentials (a bearer
token and/or basic credentials from the environment), signed-in readers, and everyone only
when reads are public and no scrape credentials are set. /api/health stays open."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from tests.support.personas import user_with

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
DETAILS = ("hostname", "monitors", "workers", "dispatcher", "supervisor", "serverHost")


def basic(credentials: str) -> str:
    return "Basic " + base64.b64encode(credentials.encode()).decode()


@pytest.fixture
def private(prometheus):
    """``/metrics`` on, no scrape credentials, reads not public."""
    prometheus.NANOMON_PUBLIC_READ = False
    return prometheus


@pytest.fixture
def named_monitor(make_monitor):
    from tests.metrics.support import run_due_monitors

    make_monitor(name="payroll-db", kind="tcp", target="127.0.0.1:9", interval="30s")
    run_due_monitors()


def test_metrics_are_open_when_reads_are_public_and_no_protection_is_set(client, prometheus):
    assert client.get("/metrics").status_code == 200


def test_metrics_need_a_signed_in_reader_when_nothing_else_lets_anyone_in(
    client, private, named_monitor, viewer_user
):
    refused = client.get("/metrics")

    assert refused.status_code == 401
    assert refused["WWW-Authenticate"] == "Token"
    assert b"payroll" not in refused.content
    token = Token.objects.create(user=viewer_user)
    by_token = Client().get("/metrics", headers={"Authorization": f"Token {token.key}"})
    assert by_token.status_code == 200
    assert b"payroll_db" in by_token.content
    client.force_login(viewer_user)
    assert client.get("/metrics").status_code == 200


def test_a_bad_api_token_is_refused_not_an_error(client, private):
    response = client.get("/metrics", headers={"Authorization": "Token not-a-token"})

    assert response.status_code == 401


def test_a_user_without_a_role_may_not_scrape_when_users_get_no_role(client, private):
    private.OIDC_DEFAULT_ROLE = ""
    client.force_login(user_with("roleless", []))

    assert client.get("/metrics").status_code == 401


def test_the_scrape_token_is_still_needed_when_reads_are_public(client, prometheus):
    prometheus.PROMETHEUS_BEARER_TOKEN = "s3cret-token"

    assert client.get("/metrics").status_code == 401
    assert (
        client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
    )


def test_anonymous_status_has_only_the_minimal_health_fields(client, private, named_monitor):
    body = client.get("/api/status").json()

    assert body == {"service": "NanoMon", "healthy": body["healthy"], "reasons": body["reasons"]}
    assert isinstance(body["healthy"], bool)


def test_status_details_for_readers_the_scrape_token_and_public_reads(
    client, private, named_monitor, viewer_user
):
    private.PROMETHEUS_BEARER_TOKEN = "s3cret-token"
    private.PROMETHEUS_BASIC_AUTH = "prom:pw"
    token = Token.objects.create(user=viewer_user)
    signed_in = Client()
    signed_in.force_login(viewer_user)

    answers = [
        signed_in.get("/api/status"),
        Client().get("/api/status", headers={"Authorization": f"Token {token.key}"}),
        Client().get("/api/status", headers={"Authorization": "Bearer s3cret-token"}),
        Client().get("/api/status", headers={"Authorization": basic("prom:pw")}),
    ]
    private.NANOMON_PUBLIC_READ = True
    answers.append(Client().get("/api/status"))

    for response in answers:
        assert response.status_code == 200
        assert set(DETAILS) <= set(response.json()), response.json()
        assert response.json()["monitors"]["total"] == 1
    wrong = Client().get("/api/status", headers={"Authorization": "Bearer wrong"})
    private.NANOMON_PUBLIC_READ = False
    assert set(DETAILS) <= set(wrong.json())  # reads were public: the wrong token changes nothing
    assert "hostname" not in Client().get("/api/status", headers={"Authorization": "x"}).json()


def test_a_user_without_a_role_gets_the_minimal_status(client, private):
    private.OIDC_DEFAULT_ROLE = ""
    client.force_login(user_with("roleless", []))

    assert set(client.get("/api/status").json()) == {"service", "healthy", "reasons"}


def test_health_stays_open_to_anyone(client, private):
    assert client.get("/api/health").status_code in (200, 503)
    assert client.get("/api/health")["Content-Type"].startswith("text/plain")


def _start_up_log(tmp_path: Path, **environment: str) -> str:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PROMETHEUS_", "DJANGO_", "NANOMON_", "DATABASE_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="nanomon.settings",
        NANOMON_DATA_DIR=str(tmp_path),
        PROMETHEUS_ENABLE="true",
        **environment,
    )
    done = subprocess.run(
        [sys.executable, "-c", "import nanomon.wsgi"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stderr


def test_the_web_server_warns_at_start_up_when_metrics_have_no_scrape_credentials(tmp_path):
    private = _start_up_log(tmp_path)
    public = _start_up_log(tmp_path, NANOMON_PUBLIC_READ="true")
    protected = _start_up_log(tmp_path, PROMETHEUS_BEARER_TOKEN="t", NANOMON_PUBLIC_READ="true")

    assert "WARNING metrics: /metrics is enabled without PROMETHEUS_BEARER_TOKEN" in private
    assert "answers only signed-in readers" in private
    assert "anyone can read every monitor's name" in public
    assert "/metrics" not in protected


def test_a_bearer_token_is_required_when_configured(client, prometheus):
    prometheus.PROMETHEUS_BEARER_TOKEN = "s3cret-token"

    refused = client.get("/metrics")
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
    right = client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})

    assert refused.status_code == 401
    assert refused["WWW-Authenticate"] == 'Bearer realm="NanoMon metrics"'
    assert wrong.status_code == 401
    assert right.status_code == 200
    assert b"nanomon_build_info" in right.content


def test_basic_credentials_are_required_when_configured(client, prometheus):
    prometheus.PROMETHEUS_BASIC_AUTH = "prom:pa:ss"  # the password may hold a colon

    refused = client.get("/metrics")
    wrong = client.get("/metrics", headers={"Authorization": basic("prom:nope")})
    garbled = client.get("/metrics", headers={"Authorization": "Basic %%%"})
    right = client.get("/metrics", headers={"Authorization": basic("prom:pa:ss")})

    assert refused.status_code == 401
    assert refused["WWW-Authenticate"].startswith('Basic realm="NanoMon metrics"')
    assert wrong.status_code == 401
    assert garbled.status_code == 401
    assert right.status_code == 200


def test_either_is_accepted_when_both_are_configured(client, prometheus):
    prometheus.PROMETHEUS_BEARER_TOKEN = "token"
    prometheus.PROMETHEUS_BASIC_AUTH = "prom:secret"

    assert client.get("/metrics", headers={"Authorization": "Bearer token"}).status_code == 200
    assert (
        client.get("/metrics", headers={"Authorization": basic("prom:secret")}).status_code == 200
    )
    refused = client.get("/metrics", headers={"Authorization": "Bearer prom:secret"})
    assert refused.status_code == 401
    assert "Basic" in refused["WWW-Authenticate"]
    assert "Bearer" in refused["WWW-Authenticate"]


def test_metrics_stay_hidden_behind_404_when_disabled_even_with_credentials(client, settings):
    settings.PROMETHEUS_ENABLED = False
    settings.PROMETHEUS_BEARER_TOKEN = "token"

    assert client.get("/metrics", headers={"Authorization": "Bearer token"}).status_code == 404


def test_metrics_only_answer_reads(client, prometheus):
    assert client.post("/metrics").status_code == 405
    assert client.head("/metrics").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_signed_in_status_while_the_database_is_down_is_minimal_not_a_500(
    client, private, viewer_user, monkeypatch
):
    from django.db import connection

    from tests.support.http_servers import refused_port

    client.force_login(viewer_user)
    connection.close()
    monkeypatch.setitem(connection.settings_dict, "PORT", str(refused_port()))
    try:
        response = client.get("/api/status")
    finally:
        monkeypatch.undo()
        connection.close()

    assert response.status_code == 200
    assert response.json()["healthy"] is False
    assert "hostname" not in response.json()
