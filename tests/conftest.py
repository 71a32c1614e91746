"""Shared fixtures: a frozen-ish clock value and a monitor factory going through the services."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
import redis
from django.conf import settings

from monitors.services import monitor_create
from tests.support import isolation
from tests.support.personas import EDITOR_PERMISSIONS, VIEWER_PERMISSIONS, user_with

NOW = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def make_monitor(now):
    """Create a monitor through ``monitor_create`` (dispatch requests are no-ops in tests)."""

    def make(**fields):
        defaults = {
            "name": "web",
            "kind": "http",
            "target": "http://127.0.0.1:9/",
            "interval": "30s",
            "enabled": True,
        }
        defaults.update(fields)
        saved_at = defaults.pop("now", now)
        return monitor_create(now=saved_at, **defaults)

    return make


@pytest.fixture
def admin_user(db):
    return user_with("admin", [], is_staff=True, is_superuser=True)


@pytest.fixture
def editor_user(db):
    return user_with("editor", EDITOR_PERMISSIONS)


@pytest.fixture
def viewer_user(db):
    return user_with("viewer", VIEWER_PERMISSIONS)


@pytest.fixture
def public_read(settings):
    settings.NANOMON_PUBLIC_READ = True


@pytest.fixture(scope="session", autouse=True)
def broker_keys_removed():
    """The run leaves nothing in the broker: at its end, every key under the run's prefix
    goes (what the tests queued with nobody to consume it), after checking that each
    end-to-end test removed its processes' keys itself."""
    yield
    url, prefix = settings.CELERY_BROKER_URL, settings.NANOMON_TEST_KEY_PREFIX
    if not isolation.is_redis(url):
        return
    client = redis.Redis.from_url(url)
    try:
        left_by_processes = isolation.keys_under(client, f"{prefix}e2e-")
        isolation.delete_keys_under(client, prefix)
        remaining = isolation.keys_under(client, prefix)
    except redis.ConnectionError:
        return  # no Redis: nothing was queued there either
    finally:
        client.close()
    assert not left_by_processes, f"end-to-end keys left in the broker: {left_by_processes[:10]}"
    assert not remaining, f"keys still in the broker: {remaining[:10]}"


@pytest.fixture
def service_env(transactional_db, tmp_path):
    """Environment for real NanoMon processes (worker, beat, gunicorn) started by a test: the
    test database, the run's broker (CELERY_BROKER_URL) under a key prefix of this test's own
    (concurrent test runs sharing Redis never see each other's tasks; its keys are deleted
    afterwards), and a data folder of its own."""
    broker = settings.CELERY_BROKER_URL
    prefix = isolation.e2e_key_prefix(settings.NANOMON_TEST_KEY_PREFIX)
    yield {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "nanomon.settings",
        "DATABASE_URL": isolation.postgres_url(settings.DATABASES["default"]),
        "CELERY_BROKER_URL": broker,
        "NANOMON_BROKER_KEY_PREFIX": prefix,
        "NANOMON_DATA_DIR": str(tmp_path),
    }
    if isolation.is_redis(broker):
        client = redis.Redis.from_url(broker)
        try:
            isolation.delete_keys_under(client, prefix)
        finally:
            client.close()
