"""Settings read from the environment fail loudly on bad values, naming the variable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from nanomon import embedded
from nanomon.env import (
    ConfigError,
    env_bool,
    env_int,
    env_list,
    env_retention,
    env_seconds,
    env_str,
)

ROOT = Path(__file__).resolve().parents[2]


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
        (lambda: env_seconds("X_BAD", "1s"), "0s", "X_BAD must be greater than zero"),
        (lambda: env_seconds("X_BAD", "1s", allow_zero=True), "-1s", "X_BAD must be zero or more"),
    ],
)
def test_bad_values_raise_an_error_naming_the_variable(monkeypatch, reader, raw, message):
    monkeypatch.setenv("X_BAD", raw)
    with pytest.raises(ConfigError, match=message):
        reader()


def run_python(arguments: list[str], env: dict[str, str], tmp_path) -> subprocess.CompletedProcess:
    """``python <arguments>`` in the project with only ``env`` (and a data folder of its own)."""
    return subprocess.run(
        [sys.executable, *arguments],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "NANOMON_DATA_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def run_check(env: dict[str, str], tmp_path) -> subprocess.CompletedProcess:
    """``manage.py check`` with only ``env``: settings load or stop with their message."""
    return run_python(["manage.py", "check"], env, tmp_path)


def test_with_no_variables_the_project_runs_on_sqlite_and_the_sqlite_broker(tmp_path):
    show = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.CELERY_BROKER_URL, s.CELERY_BROKER_TRANSPORT_OPTIONS['path'])"
    )
    completed = run_python(["-c", show], {"DJANGO_SETTINGS_MODULE": "nanomon.settings"}, tmp_path)

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == ["sqlite://", str(tmp_path / "broker.sqlite3")]
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_a_bad_setting_stops_the_process_with_a_message_naming_it(tmp_path):
    completed = run_check({"NANOMON_PROBE_CONCURRENCY": "lots"}, tmp_path)

    assert completed.returncode != 0
    assert "NANOMON_PROBE_CONCURRENCY must be a whole number" in completed.stderr


def test_a_worker_staleness_below_the_heartbeat_period_stops_the_process(tmp_path):
    completed = run_check({"NANOMON_HEALTH_WORKER_STALE": "10s"}, tmp_path)

    assert completed.returncode != 0
    assert "NANOMON_HEALTH_WORKER_STALE must be 0s (off) or at least 30s" in completed.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"NANOMON_TEST_TIMEOUT": "26s"}, "NANOMON_TEST_TIMEOUT must be at least 5s below "
         "NANOMON_WEB_TIMEOUT (the web server's timeout, 30s)"),
        ({"NANOMON_WEB_TIMEOUT": "20s"}, "NANOMON_TEST_TIMEOUT must be at least 5s below"),
        ({"NANOMON_WEB_THREADS": "2"}, "NANOMON_WEB_THREADS must be at least 3"),
    ],
)  # fmt: skip
def test_a_test_timeout_the_web_server_would_cut_stops_the_process(tmp_path, env, message):
    completed = run_check(env, tmp_path)

    assert completed.returncode != 0
    assert message in completed.stderr


def test_gunicorn_reads_its_threads_and_timeout_from_the_environment(tmp_path):
    """From the checkout gunicorn reads gunicorn.conf.py: threads (gthread) and the timeout
    the settings check the test timeout against."""
    completed = run_python(
        ["-m", "gunicorn", "--print-config", "nanomon.wsgi"],
        {"NANOMON_WEB_THREADS": "5", "NANOMON_WEB_TIMEOUT": "45s"},
        tmp_path,
    )
    printed = {
        name.strip(): value.strip()
        for name, _, value in (line.partition("=") for line in completed.stdout.splitlines())
    }

    assert completed.returncode == 0, completed.stderr
    assert (printed["worker_class"], printed["threads"], printed["timeout"]) == (
        "gthread",
        "5",
        "45",
    )


def test_behind_a_tls_proxy_urls_say_https(tmp_path):
    completed = run_python(
        [
            "-c",
            "import django; django.setup(); from django.test import RequestFactory; "
            "r = RequestFactory().get('/x', HTTP_X_FORWARDED_PROTO='https', "
            "HTTP_HOST='mon.example.org'); "
            "print(r.build_absolute_uri())",
        ],
        {
            "DJANGO_SETTINGS_MODULE": "nanomon.settings",
            "NANOMON_BEHIND_TLS_PROXY": "true",
            "DJANGO_ALLOWED_HOSTS": "mon.example.org",
        },
        tmp_path,
    )

    assert completed.stdout.strip() == "https://mon.example.org/x", completed.stderr


# --- The embedded shape (nanomon.embedded) ------------------------------------------------------


def sizes(commands: dict[str, list[str]]) -> tuple[str, str]:
    web, worker = commands["web"], commands["worker"]
    return web[web.index("--workers") + 1], worker[worker.index("--concurrency") + 1]


@pytest.mark.parametrize("raw", [None, ""])
def test_the_embedded_children_default_to_2_web_workers_and_4_worker_threads(monkeypatch, raw):
    for name in ("WEB_CONCURRENCY", "NANOMON_WORKER_CONCURRENCY"):
        if raw is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, raw)

    assert sizes(embedded.child_commands(8000, "127.0.0.1")) == ("2", "4")


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("WEB_CONCURRENCY", "lots", "WEB_CONCURRENCY must be a whole number"),
        ("NANOMON_WORKER_CONCURRENCY", "0", "NANOMON_WORKER_CONCURRENCY must be at least 1"),
    ],
)
def test_bad_embedded_sizes_stop_it_naming_the_variable(monkeypatch, name, raw, message):
    monkeypatch.setenv(name, raw)
    with pytest.raises(ConfigError, match=message):
        embedded.child_commands(8000, "127.0.0.1")


@pytest.mark.django_db
def test_an_empty_superuser_password_is_generated_and_shown(monkeypatch, capsys):
    """``DJANGO_SUPERUSER_PASSWORD=`` as in a copied .env.example: the password is generated,
    so it must be printed (not claimed to come from the variable)."""
    monkeypatch.setattr("django.core.management.call_command", lambda *args, **kwargs: None)
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "")
    monkeypatch.delenv("DJANGO_SUPERUSER_USERNAME", raising=False)

    embedded.prepare()

    printed = capsys.readouterr().out
    assert "with password: " in printed, printed
    password = printed.split("with password: ", 1)[1].split()[0]
    assert get_user_model().objects.get(username="admin").check_password(password)


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        ("", 31 * 86400.0),
        ("31d", 31 * 86400.0),
        ("744h", 744 * 3600.0),
        ("90m", 5400.0),
        ("0", 0.0),
    ],
)
def test_retentions_take_days_or_durations_and_zero_keeps_for_ever(monkeypatch, raw, seconds):
    monkeypatch.setenv("RESULTS_RETENTION", raw)
    assert env_retention("RESULTS_RETENTION", "31d") == seconds


@pytest.mark.parametrize("raw", ["31", "d", "-1h", "1.5d", "a month"])
def test_a_bad_retention_names_the_variable(monkeypatch, raw):
    monkeypatch.setenv("ALERT_HISTORY_RETENTION", raw)
    with pytest.raises(ConfigError, match="ALERT_HISTORY_RETENTION must be"):
        env_retention("ALERT_HISTORY_RETENTION", "400d")
