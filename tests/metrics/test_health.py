"""/api/health (200 or 503, any method, cheap) and /api/status (always 200, JSON)."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from metrics import apps, health
from metrics.models import WorkerHeartbeat
from metrics.services import worker_heartbeat
from monitors.models import Monitor
from tests.support.http_servers import refused_port

# Reads are public, so /api/status gives every field (tests/metrics/test_protection.py: to whom
# otherwise).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("public_read")]


@pytest.fixture
def broker_down(settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{refused_port()}/0"
    health.forget_broker_check()


@pytest.fixture(autouse=True)
def long_running(monkeypatch):
    """This web process started an hour ago (past any start-up grace); no cached loop state."""
    monkeypatch.setattr(apps, "STARTED_MONOTONIC", time.monotonic() - 3600)
    health.forget_loop_check()
    yield
    health.forget_loop_check()


def seen(seconds_ago: float, name: str = "celery@worker-1") -> None:
    WorkerHeartbeat.objects.update_or_create(
        name=name, defaults={"last_seen_at": timezone.now() - timedelta(seconds=seconds_ago)}
    )


@pytest.fixture
def worker_alive():
    seen(1)


@pytest.mark.parametrize("method", ["get", "post", "put", "delete", "patch", "options"])
def test_health_answers_ok_to_any_method(worker_alive, client, method):
    response = getattr(client, method)("/api/health")

    assert response.status_code == 200
    assert response.content == b"OK: Service is healthy"
    assert response["Content-Type"].startswith("text/plain")


def test_health_is_503_when_the_broker_is_unreachable(worker_alive, client, broker_down):
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


def test_the_embedded_broker_is_healthy_when_its_file_can_be_opened(
    worker_alive, client, settings, tmp_path
):
    settings.CELERY_BROKER_URL = "sqlite://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"path": str(tmp_path / "broker.sqlite3")}
    health.forget_broker_check()

    assert client.get("/api/health").status_code == 200

    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the broker's folder should be")
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"path": str(blocked / "broker.sqlite3")}
    health.forget_broker_check()
    response = client.get("/api/health")
    assert response.status_code == 503
    assert b"broker" in response.content


def test_health_costs_one_query_and_reads_broker_and_loop_at_most_every_two_seconds(
    worker_alive, client, django_assert_num_queries, monkeypatch
):
    checks = []
    real_check = health._check_broker_now
    monkeypatch.setattr(health, "_check_broker_now", lambda: checks.append(1) or real_check())

    with django_assert_num_queries(2):  # SELECT 1, and the loop's state (one query)
        assert client.get("/api/health").status_code == 200
    for _ in range(4):
        with django_assert_num_queries(1):
            assert client.get("/api/health").status_code == 200

    assert len(checks) == 1


def test_status_describes_the_service(worker_alive, client, make_monitor):
    make_monitor(name="a", now=timezone.now())  # due now: not late
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
    assert body["reasons"] == []
    assert body["workers"] == {
        "seen": 1,
        "names": ["celery@worker-1"],
        "window": "2m0s",
        "lastSeenAt": body["workers"]["lastSeenAt"],
        "staleAfter": "1m0s",
        "starting": False,
    }
    assert body["dispatcher"]["maxLag"] == "1m0s"
    assert 0 <= body["dispatcher"]["lagSeconds"] < 60  # "a" is due since its save


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


# --- Degraded: the loop (issue 19 item 4) -------------------------------------------------------


def test_health_is_503_when_no_worker_has_been_seen_lately(client):
    seen(75)

    response = client.get("/api/health")
    body = client.get("/api/status").json()

    assert response.status_code == 503
    assert response.content == (
        b"Error: Service is not healthy: no worker seen for 1m15s (limit 1m0s)"
    )
    assert body["healthy"] is False
    assert body["reasons"] == ["no worker seen for 1m15s (limit 1m0s)"]
    assert body["database"]["reachable"] is True
    assert body["broker"]["reachable"] is True
    assert body["workers"]["seen"] == 1  # within /api/status's 2 minute window, yet stale
    assert body["workers"]["lastSeenAt"].endswith("Z")


def test_a_worker_seen_within_the_limit_is_healthy(client, settings):
    seen(45)
    assert client.get("/api/health").status_code == 200

    settings.NANOMON_HEALTH_WORKER_STALE_SECONDS = 30
    health.forget_loop_check()
    assert client.get("/api/health").status_code == 503

    settings.NANOMON_HEALTH_WORKER_STALE_SECONDS = 0  # off
    health.forget_loop_check()
    assert client.get("/api/health").status_code == 200


def test_a_fresh_install_is_starting_during_the_grace_then_degraded(client, monkeypatch):
    monkeypatch.setattr(apps, "STARTED_MONOTONIC", time.monotonic() - 10)

    starting = client.get("/api/status").json()
    assert client.get("/api/health").status_code == 200
    assert starting["healthy"] is True
    assert starting["workers"]["starting"] is True
    assert starting["workers"]["lastSeenAt"] is None

    monkeypatch.setattr(apps, "STARTED_MONOTONIC", time.monotonic() - 61)
    health.forget_loop_check()
    response = client.get("/api/health")
    assert response.status_code == 503
    assert response.content.endswith(b"no worker seen since this process started (limit 1m0s)")
    assert client.get("/api/status").json()["workers"]["starting"] is False


def test_a_stale_heartbeat_is_degraded_even_in_a_process_that_just_started(client, monkeypatch):
    monkeypatch.setattr(apps, "STARTED_MONOTONIC", time.monotonic() - 1)
    seen(3600)

    assert client.get("/api/health").status_code == 503


def test_health_is_503_when_the_dispatcher_is_behind(worker_alive, client, make_monitor):
    now = timezone.now()
    late = make_monitor(name="late")
    Monitor.objects.filter(pk=late.pk).update(next_run_at=now - timedelta(seconds=90))

    response = client.get("/api/health")
    body = client.get("/api/status").json()

    assert response.status_code == 503
    assert response.content == (
        b"Error: Service is not healthy: dispatcher 1m30s behind schedule (limit 1m0s)"
    )
    assert body["reasons"] == ["dispatcher 1m30s behind schedule (limit 1m0s)"]
    assert 90 <= body["dispatcher"]["lagSeconds"] < 100


def test_a_monitor_held_by_its_run_or_disabled_is_not_lag(worker_alive, client, make_monitor):
    now = timezone.now()
    running = make_monitor(name="running")  # its slot passed while its long run holds it
    Monitor.objects.filter(pk=running.pk).update(
        next_run_at=now - timedelta(seconds=90), lease_until=now + timedelta(seconds=30)
    )
    off = make_monitor(name="off", enabled=False)
    Monitor.objects.filter(pk=off.pk).update(next_run_at=now - timedelta(hours=1))
    recent = make_monitor(name="recent")
    Monitor.objects.filter(pk=recent.pk).update(next_run_at=now - timedelta(seconds=30))

    assert client.get("/api/health").status_code == 200
    assert 30 <= client.get("/api/status").json()["dispatcher"]["lagSeconds"] < 40


def test_every_reason_is_given_at_once(client, broker_down, make_monitor):
    seen(300)
    late = make_monitor(name="late")
    Monitor.objects.filter(pk=late.pk).update(next_run_at=timezone.now() - timedelta(minutes=5))

    response = client.get("/api/health")

    assert response.status_code == 503
    assert response.content.decode() == (
        "Error: Service is not healthy: broker unreachable; no worker seen for 5m0s "
        "(limit 1m0s); dispatcher 5m0s behind schedule (limit 1m0s)"
    )


def test_a_stale_cached_loop_state_is_read_again_after_two_seconds(client, monkeypatch):
    seen(1)
    assert client.get("/api/health").status_code == 200
    seen(120)  # the workers froze
    assert client.get("/api/health").status_code == 200  # cached

    monkeypatch.setattr(health, "LOOP_CHECK_TTL_SECONDS", 0.0)
    assert client.get("/api/health").status_code == 503
