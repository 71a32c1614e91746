"""Shared fixtures: a frozen-ish clock value, a monitor factory going through the services, the
personas (users, and the API's token clients), and real processes for the tests that need them."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from django.conf import settings
from rest_framework.test import APIClient

from monitors.services import monitor_create
from tests.support import isolation
from tests.support.api import token_client
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


# The API's personas, each with a DRF token client (session sign-in, with CSRF, has its own
# tests). The pages' tests (tests/web/conftest.py) give the same names to session clients.
@pytest.fixture
def admin(admin_user) -> APIClient:
    return token_client(admin_user)


@pytest.fixture
def editor(editor_user) -> APIClient:
    return token_client(editor_user)


@pytest.fixture
def viewer(viewer_user) -> APIClient:
    return token_client(viewer_user)


@pytest.fixture
def anonymous(db) -> APIClient:
    return APIClient()


@pytest.fixture
def personas(admin, editor, viewer, anonymous) -> dict[str, APIClient]:
    return {"admin": admin, "editor": editor, "viewer": viewer, "anonymous": anonymous}


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
        # The test process's keys: its data folder's SECRET_KEY, and so the key derived from
        # it, differ from this one's (docs/security.md); the processes open what it sealed.
        "NANOMON_SECRETS_KEY": ",".join(settings.NANOMON_SECRETS_KEYS),
    }
    if isolation.is_redis(broker):
        client = redis.Redis.from_url(broker)
        try:
            isolation.delete_keys_under(client, prefix)
        finally:
            client.close()


@pytest.fixture(scope="session")
def tests_worker(django_db_setup):
    """A real Celery worker consuming the ``tests`` queue ("Test now", ``monitors.oneoff``)
    for the whole run, on the run's test database and broker keys: what the API's and the
    pages' test actions need to answer. It writes results with its own connection, so tests
    using it see them whether or not they run in a transaction."""
    database = settings.DATABASES["default"]
    if database["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("a worker process cannot share the test run's SQLite database")
    broker = settings.CELERY_BROKER_URL
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "nanomon.settings",
        "DATABASE_URL": isolation.postgres_url(database),
        "CELERY_BROKER_URL": broker,
        "NANOMON_DATA_DIR": os.environ["NANOMON_DATA_DIR"],  # the SQLite broker's file, if any
    }
    if isolation.is_redis(broker):
        env["NANOMON_BROKER_KEY_PREFIX"] = settings.NANOMON_TEST_KEY_PREFIX
    root = Path(__file__).resolve().parent.parent
    with tempfile.NamedTemporaryFile("w+", prefix="nanomon-tests-worker-", suffix=".log") as log:
        worker = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "nanomon", "worker", "-Q", "tests",
                "--concurrency", "2", "--without-gossip", "--without-mingle",
                "--without-heartbeat", "--loglevel", "INFO",
            ],
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while "ready." not in Path(log.name).read_text():
                assert worker.poll() is None, Path(log.name).read_text()[-4000:]
                assert time.monotonic() < deadline, "the tests worker did not start"
                time.sleep(0.1)
            yield worker
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        output = Path(log.name).read_text()
    assert "Traceback" not in output, output[-4000:]
