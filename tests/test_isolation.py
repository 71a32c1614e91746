"""Test runs that share a machine: the test database, the broker keys and the benchmarks'
server all follow DATABASE_URL and CELERY_BROKER_URL (docs/testing.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings

from bench import db as bench_db
from tests.support import isolation

ROOT = Path(__file__).resolve().parent.parent

REPORT = """
import json, os
from tests import settings
from bench import db
print(json.dumps({
    "pid": os.getpid(),
    "test_database": settings.DATABASES["default"]["TEST"]["NAME"],
    "broker": settings.CELERY_BROKER_URL,
    "key_prefix": settings.NANOMON_TEST_KEY_PREFIX,
    "global_keyprefix": settings.CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"],
    "bench_server": db.DEFAULT_SERVER_URL,
    "bench_database": db.database_url(db.DEFAULT_SERVER_URL, "nanomon_bench"),
}))
"""


def test_the_test_settings_follow_database_url_and_celery_broker_url(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "NANOMON_DATA_DIR": str(tmp_path),
        "DATABASE_URL": "postgres://ci:s3cret@db.example:6543/nanomon_ci?sslmode=require",
        "CELERY_BROKER_URL": "redis://cache.example:6380/9",
        "NANOMON_BROKER_KEY_PREFIX": "job-7:",
    }
    completed = subprocess.run(
        [sys.executable, "-c", REPORT], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    derived = json.loads(completed.stdout)

    assert derived["test_database"] == f"test_nanomon_ci_{derived['pid']}"
    assert derived["broker"] == "redis://cache.example:6380/9"
    assert derived["key_prefix"].startswith(f"job-7:nanomon-tests-{derived['pid']}-")
    assert derived["global_keyprefix"] == derived["key_prefix"]
    assert derived["bench_server"] == "postgres://ci:s3cret@db.example:6543?sslmode=require"
    assert derived["bench_database"] == (
        "postgres://ci:s3cret@db.example:6543/nanomon_bench?sslmode=require"
    )


def test_this_run_uses_its_own_database_and_key_prefix():
    database = urlsplit(os.environ["DATABASE_URL"]).path.lstrip("/")
    assert settings.DATABASES["default"]["NAME"] == f"test_{database}_{os.getpid()}"
    assert os.environ["CELERY_BROKER_URL"] == settings.CELERY_BROKER_URL
    prefix = settings.NANOMON_TEST_KEY_PREFIX
    assert prefix.startswith(f"{os.environ.get('NANOMON_BROKER_KEY_PREFIX', '')}nanomon-tests-")
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] == prefix
    assert bench_db.server_url_from(os.environ["DATABASE_URL"]) == bench_db.DEFAULT_SERVER_URL


def test_end_to_end_processes_get_the_test_database_and_a_prefix_inside_the_runs(service_env):
    assert service_env["CELERY_BROKER_URL"] == settings.CELERY_BROKER_URL
    assert service_env["NANOMON_BROKER_KEY_PREFIX"].startswith(
        settings.NANOMON_TEST_KEY_PREFIX + "e2e-"
    )
    url = urlsplit(service_env["DATABASE_URL"])
    assert url.path == f"/{settings.DATABASES['default']['NAME']}"
    assert url.hostname == settings.DATABASES["default"]["HOST"]


@pytest.mark.parametrize(
    ("database", "pid", "name"),
    [
        ("nanomon", 4242, "test_nanomon_4242"),
        ("x" * 80, 4242, "test_" + "x" * 53 + "_4242"),  # PostgreSQL's 63 characters
    ],
)
def test_test_database_names_fit_postgresql(database, pid, name):
    assert isolation.isolated_database_name(database, pid) == name
    assert len(name) <= 63


def test_key_patterns_match_only_the_prefix():
    assert isolation.key_pattern("a*b?[c]:") == r"a\*b\?\[c\]:*"


@pytest.mark.parametrize(
    ("database_url", "server"),
    [
        (None, "postgres://postgres@127.0.0.1:5432"),
        ("", "postgres://postgres@127.0.0.1:5432"),
        ("sqlite:///var/nanomon.sqlite3", "postgres://postgres@127.0.0.1:5432"),
        ("postgres://postgres@10.0.0.5:5433/nanomon", "postgres://postgres@10.0.0.5:5433"),
        ("postgresql://u:p@h/db?sslmode=verify-full", "postgresql://u:p@h?sslmode=verify-full"),
    ],
)
def test_the_benchmarks_use_database_urls_server(database_url, server):
    assert bench_db.server_url_from(database_url) == server


def test_a_child_process_database_url_keeps_password_and_ssl_mode():
    database = {
        "USER": "ci", "PASSWORD": "p@ss/word", "HOST": "::1", "PORT": 5432,
        "NAME": "test_nanomon_1", "OPTIONS": {"sslmode": "require"},
    }  # fmt: skip
    assert isolation.postgres_url(database) == (
        "postgres://ci:p%40ss%2Fword@[::1]:5432/test_nanomon_1?sslmode=require"
    )
