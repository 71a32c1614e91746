"""Fixtures for the metrics tests: Prometheus switched on, local targets, a scrape helper."""

from __future__ import annotations

import pytest

from metrics import health, services
from metrics.models import EngineCounter
from tests.metrics.support import Exposition, listening_socket
from tests.support.dns_server import LocalDnsServer
from tests.support.http_servers import build_test_app, serve_app


@pytest.fixture(autouse=True)
def _fresh_process_state(request, monkeypatch):
    """Each test starts as a new process would: no heartbeat written, no broker check cached,
    and (with the database) no engine counter: a row another test's process committed outside
    its test's transaction (seen once in CI: 6 lag observations for 5 runs) is removed inside
    this test's, so the counts asserted here are this test's alone."""
    monkeypatch.setattr(services, "_last_heartbeats", {})
    health.forget_broker_check()
    if request.node.get_closest_marker("django_db"):
        request.getfixturevalue("db")
        EngineCounter.objects.all().delete()
    yield
    health.forget_broker_check()


@pytest.fixture
def prometheus(settings):
    """``PROMETHEUS_ENABLE=true`` without scrape credentials, reads public (so ``/metrics`` is
    open: tests/metrics/test_protection.py covers who may scrape otherwise), single-process
    mode."""
    settings.PROMETHEUS_ENABLED = True
    settings.NANOMON_PUBLIC_READ = True
    settings.PROMETHEUS_BEARER_TOKEN = ""
    settings.PROMETHEUS_BASIC_AUTH = ""
    settings.PROMETHEUS_MULTIPROC_DIR = None
    return settings


@pytest.fixture
def scrape(client, prometheus):
    """GET /metrics (expects 200) and parse it."""

    def get(**headers: str) -> Exposition:
        response = client.get("/metrics", headers=headers)
        assert response.status_code == 200, response.content[:500]
        assert response["Content-Type"].startswith("text/plain; version=0.0.4")
        return Exposition(response.content.decode())

    return get


@pytest.fixture(scope="module")
def http_target():
    with serve_app(build_test_app()) as server:
        yield server


@pytest.fixture(scope="module")
def tcp_port():
    with listening_socket() as port:
        yield port


@pytest.fixture(scope="module")
def dns_server():
    with LocalDnsServer() as server:
        yield server
