"""docker-compose.yml stays valid and keeps the single-host shape (no Docker engine here, so
its structure is checked instead of running it)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_the_five_services_of_the_single_host_shape():
    assert set(compose()["services"]) == {"postgres", "redis", "web", "worker", "beat"}


def test_worker_and_beat_reuse_the_web_definition():
    services = compose()["services"]

    for name in ("worker", "beat"):
        assert services[name]["image"] == services["web"]["image"]
        assert services[name]["environment"] == services["web"]["environment"]
    assert services["worker"]["command"].startswith("celery -A nanomon worker")
    assert services["beat"]["command"].startswith("celery -A nanomon beat")


def test_the_app_services_point_at_postgres_and_redis_and_wait_for_them():
    web = compose()["services"]["web"]

    assert web["environment"]["DATABASE_URL"].startswith("postgres://")
    assert web["environment"]["CELERY_BROKER_URL"].startswith("redis://")
    assert web["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "/api/health" in " ".join(web["healthcheck"]["test"])


def test_every_variable_compose_passes_is_documented():
    documented = (ROOT / ".env.example").read_text()
    passed = compose()["services"]["web"]["environment"]

    missing = [name for name in passed if f"{name}=" not in documented]
    assert missing == []


def test_every_variable_nanomon_reads_is_documented():
    """Each ``env_*("NAME")`` read by the settings, the embedded command and gunicorn.conf.py is
    in .env.example
    (an alias may be named in a comment only, e.g. PROMETHEUS_ENABLED)."""
    documented = set(re.findall(r"\b[A-Z][A-Z0-9_]+\b", (ROOT / ".env.example").read_text()))
    read = {
        name
        for source in ("nanomon/settings.py", "nanomon/embedded.py", "gunicorn.conf.py")
        for name in re.findall(
            r'env_(?:str|bool|int|seconds|list)\(\s*"([A-Z0-9_]+)"', (ROOT / source).read_text()
        )
    }

    assert "OIDC_ALGORITHMS" in read  # a call split over lines is found too
    assert sorted(read - documented) == []


def test_workers_run_the_threads_pool_by_default():
    """``celery -A nanomon worker`` with no --pool: probe batches are I/O in asyncio, threads
    need no fork per slot and share one process's memory."""
    from nanomon.celery import app

    assert app.conf.worker_pool == "threads"
    assert app.conf.worker_concurrency == 8
