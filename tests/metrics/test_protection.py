"""Optional protection of /metrics: a bearer token and/or basic credentials from the
environment; off by default, as in NanoMon."""

from __future__ import annotations

import base64

import pytest

pytestmark = pytest.mark.django_db


def basic(credentials: str) -> str:
    return "Basic " + base64.b64encode(credentials.encode()).decode()


def test_metrics_are_open_when_no_protection_is_configured(client, prometheus):
    assert client.get("/metrics").status_code == 200


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
