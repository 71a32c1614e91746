"""Settings read from the environment fail loudly on bad values, naming the variable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nanomon.env import ConfigError, env_bool, env_int, env_list, env_seconds, env_str

ROOT = Path(__file__).resolve().parent.parent


def test_unset_variables_take_their_defaults(monkeypatch):
    for name in ("X_STR", "X_BOOL", "X_INT", "X_DUR", "X_LIST"):
        monkeypatch.delenv(name, raising=False)

    assert env_str("X_STR", "d") == "d"
    assert env_bool("X_BOOL", True) is True
    assert env_int("X_INT", 3) == 3
    assert env_seconds("X_DUR", "30s") == 30
    assert env_list("X_LIST", "a, b,,c") == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("raw", "value"), [("true", True), ("YES", True), ("0", False), ("off", False)]
)
def test_booleans_accept_the_usual_spellings(monkeypatch, raw, value):
    monkeypatch.setenv("X_BOOL", raw)
    assert env_bool("X_BOOL") is value


@pytest.mark.parametrize(
    ("reader", "raw", "message"),
    [
        (lambda: env_bool("X_BAD"), "maybe", "X_BAD must be true or false"),
        (lambda: env_int("X_BAD", 1), "three", "X_BAD must be a whole number"),
        (lambda: env_int("X_BAD", 1, minimum=1), "0", "X_BAD must be at least 1"),
        (lambda: env_int("X_BAD", 1, maximum=9), "10", "X_BAD must be at most 9"),
        (lambda: env_seconds("X_BAD", "1s"), "30", "X_BAD must be a duration"),
        (lambda: env_seconds("X_BAD", "1s"), "-1s", "X_BAD must be greater than zero"),
    ],
)
def test_bad_values_raise_an_error_naming_the_variable(monkeypatch, reader, raw, message):
    monkeypatch.setenv("X_BAD", raw)
    with pytest.raises(ConfigError, match=message):
        reader()


def run_check(env: dict[str, str], tmp_path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "NANOMON_DATA_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_with_no_variables_the_project_runs_on_sqlite_and_a_file_broker(tmp_path):
    completed = run_check({}, tmp_path)

    assert completed.returncode == 0, completed.stderr
    assert (tmp_path / "broker").is_dir()
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_a_bad_setting_stops_the_process_with_a_message_naming_it(tmp_path):
    completed = run_check({"NANOMON_PROBE_CONCURRENCY": "lots"}, tmp_path)

    assert completed.returncode != 0
    assert "NANOMON_PROBE_CONCURRENCY must be a whole number" in completed.stderr


def test_behind_a_tls_proxy_urls_say_https(tmp_path):
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.test import RequestFactory; "
            "r = RequestFactory().get('/x', HTTP_X_FORWARDED_PROTO='https', "
            "HTTP_HOST='mon.example.org'); "
            "print(r.build_absolute_uri())",
        ],
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "NANOMON_DATA_DIR": str(tmp_path),
            "DJANGO_SETTINGS_MODULE": "nanomon.settings",
            "NANOMON_BEHIND_TLS_PROXY": "true",
            "DJANGO_ALLOWED_HOSTS": "mon.example.org",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert completed.stdout.strip() == "https://mon.example.org/x", completed.stderr
