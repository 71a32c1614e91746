"""/api/health (200 or 503, any method, cheap) and /api/status (always 200, JSON)."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.utils import timezone

from metrics import health
from metrics.services import worker_heartbeat
from tests.support.http_servers import refused_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker_down(settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{refused_port()}/0"
    health.forget_broker_check()


@pytest.mark.parametrize("method", ["get", "post", "put", "delete", "patch", "options"])
def test_health_answers_ok_to_any_method(client, method):
    response = getattr(client, method)("/api/health")

    assert response.status_code == 200
    assert response.content == b"OK: Service is healthy"
    assert response["Content-Type"].startswith("text/plain")


def test_health_is_503_when_the_broker_is_unreachable(client, broker_down):
    response = client.get("/api/health")

    assert response.status_code == 503
    assert response.content == b"Error: Service is not healthy: broker unreachable"


@pytest.mark.django_db(transaction=True)
def test_health_is_503_when_the_database_is_unreachable(client, monkeypatch):
    connection.close()
    monkeypatch.setitem(connection.settings_dict, "PORT", str(refused_port()))
    try:
        response = client.get("/api/health")
        status = client.get("/api/status")
    finally:
        monkeypatch.undo()
        connection.close()

    assert response.status_code == 503
    assert response.content == b"Error: Service is not healthy: database unreachable"
    assert status.status_code == 200
    assert status.json()["healthy"] is False
    assert status.json()["database"]["reachable"] is False
    assert status.json()["monitors"] is None


def test_the_file_system_broker_is_healthy_when_its_folder_is_writable(client, settings, tmp_path):
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path)}

    assert client.get("/api/health").status_code == 200

    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path / "missing")}
    health.forget_broker_check()
    assert client.get("/api/health").status_code == 503


def test_health_costs_one_query_and_checks_the_broker_at_most_every_two_seconds(
    client, django_assert_num_queries, monkeypatch
):
    checks = []
    real_check = health._check_broker_now
    monkeypatch.setattr(health, "_check_broker_now", lambda: checks.append(1) or real_check())

    for _ in range(5):
        with django_assert_num_queries(1):
            assert client.get("/api/health").status_code == 200

    assert len(checks) == 1


def test_status_describes_the_service(client, make_monitor):
    make_monitor(name="a")
    make_monitor(name="b", enabled=False)

    body = client.get("/api/status").json()

    assert body["service"] == "NanoMon"
    assert body["healthy"] is True
    assert body["version"] == "0.1.0"
    assert body["buildInfo"] == "development"
    assert body["hostname"]
    assert re.fullmatch(r"(\d+h)?(\d+m)?\d+s", body["uptime"])
    assert body["uptimeSeconds"] >= 0
    assert body["database"] == {"reachable": True, "vendor": "postgresql"}
    assert body["broker"] == {"reachable": True, "transport": "redis"}
    assert body["monitors"] == {"total": 2, "enabled": 1}
    assert body["workers"] == {"seen": 0, "names": [], "window": "2m0s"}


def test_status_lists_workers_seen_in_the_last_two_minutes(client):
    worker_heartbeat(now=timezone.now())

    body = client.get("/api/status").json()

    assert body["workers"]["seen"] == 1
    assert len(body["workers"]["names"]) == 1


def test_status_is_200_and_unhealthy_when_the_broker_is_down(client, broker_down):
    response = client.post("/api/status")

    assert response.status_code == 200
    assert response.json()["healthy"] is False
    assert response.json()["broker"]["reachable"] is False


def test_uptime_reads_like_a_go_duration():
    from metrics.views import go_duration

    assert [go_duration(s) for s in (0, 59.9, 125, 3605, 90061)] == [
        "0s",
        "59s",
        "2m5s",
        "1h0m5s",
        "25h1m1s",
    ]
