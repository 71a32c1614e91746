"""Shared fixtures: a frozen-ish clock value and a monitor factory going through the services."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime

import pytest
import redis
from django.conf import settings

from monitors.services import monitor_create
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


E2E_BROKER_URL = "redis://127.0.0.1:6379/14"


@pytest.fixture
def service_env(transactional_db, tmp_path):
    """Environment for real NanoMon processes (worker, beat, gunicorn) started by a test: the
    test database, a Redis broker under a key prefix of this test's own (concurrent test runs
    sharing Redis never see each other's tasks), and a data folder of its own."""
    prefix = f"nanomon-e2e-{uuid.uuid4().hex[:12]}:"
    database = settings.DATABASES["default"]
    yield {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "nanomon.settings",
        "DATABASE_URL": (
            f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
        ),
        "CELERY_BROKER_URL": E2E_BROKER_URL,
        "NANOMON_BROKER_KEY_PREFIX": prefix,
        "NANOMON_DATA_DIR": str(tmp_path),
    }
    client = redis.Redis.from_url(E2E_BROKER_URL)
    keys = list(client.scan_iter(f"{prefix}*"))
    if keys:
        client.delete(*keys)
