"""The monitoring loop end to end with real processes: Celery worker + beat on PostgreSQL and
Redis, and the embedded command on SQLite with its file-system broker.

These tests start real processes and wait for real results. Waits are generous upper bounds
that only stop a broken run from hanging; the figures of interest (time to the first result)
are printed, not asserted against tight thresholds.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

from monitors.services import monitor_create, monitor_update
from results.models import Result
from tests.support.http_servers import build_test_app, refused_port, serve_app

ROOT = Path(__file__).resolve().parent.parent
WAIT_SECONDS = 60
pytestmark = pytest.mark.e2e


def wait_for(condition, *, timeout: float = WAIT_SECONDS, every: float = 0.1, what: str = ""):
    """Poll ``condition`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    pytest.fail(f"gave up after {timeout}s waiting for {what or condition}")


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> str:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.stdout.read() if process.stdout else ""


# --- Single host / fleet shape: PostgreSQL + Redis, separate worker and beat ---------------


@pytest.fixture
def celery_processes(service_env, tmp_path):
    """A real worker and a real beat against the test database and an isolated broker."""

    def start(name: str, *arguments: str) -> tuple[subprocess.Popen, Path]:
        log = tmp_path / f"{name}.log"
        with log.open("w") as output:  # the child keeps its own copy of the file
            process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "nanomon", *arguments, "--loglevel", "INFO"],
                cwd=ROOT,
                env=service_env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        return process, log

    worker, worker_log = start(
        "worker", "worker", "--concurrency", "2", "--without-gossip", "--without-mingle"
    )
    beat, beat_log = start("beat", "beat")
    # Measure from a running system, not from process start-up.
    wait_for(lambda: "ready." in worker_log.read_text(), what="the worker to be ready")
    wait_for(lambda: "Scheduler: Sending" in beat_log.read_text(), what="beat's first tick")
    yield worker, beat
    for process in (beat, worker):
        stop(process)
    connection.close()
    logs = worker_log.read_text() + beat_log.read_text()
    assert "Traceback" not in logs, logs[-4000:]


def test_worker_and_beat_run_a_monitor_at_once_and_then_on_its_interval(celery_processes):
    with serve_app(build_test_app()) as server:
        saved_at = time.monotonic()
        monitor = monitor_create(
            name="e2e web", kind="http", target=server.url("/status/404"), interval="2s",
            rule="status == 200", enabled=True,
        )  # fmt: skip

        first = wait_for(lambda: Result.objects.filter(monitor=monitor).first(), what="a result")
        print(f"first result {time.monotonic() - saved_at:.2f}s after the save")
        assert first.status == Result.Status.ERROR
        assert first.message == "Rule violated: status == 200"
        assert first.outputs["status"] == 404
        assert "body" not in first.outputs

        wait_for(lambda: Result.objects.filter(monitor=monitor).count() >= 3, what="3 results")
        lags = [r.schedule_lag_seconds for r in Result.objects.filter(monitor=monitor)]
        print(f"schedule lag of the first runs: {[round(lag, 3) for lag in lags]}")

        monitor_update(
            monitor, name="e2e renamed", kind="http", target=server.url("/ok"), interval="1m",
            rule="status == 200", enabled=True, properties={},
        )  # fmt: skip
        renamed = wait_for(
            lambda: Result.objects.filter(monitor=monitor, monitor_name="e2e renamed").first(),
            what="a result with the new name",
        )
        assert renamed.status == Result.Status.OK
        assert renamed.monitor_target == server.url("/ok")


def test_a_disabled_monitor_never_runs_while_the_others_do(celery_processes):
    disabled = monitor_create(
        name="off", kind="http", target=f"http://127.0.0.1:{refused_port()}/", interval="1s",
        enabled=False,
    )  # fmt: skip
    running = monitor_create(
        name="on", kind="http", target=f"http://127.0.0.1:{refused_port()}/", interval="1s",
        enabled=True,
    )  # fmt: skip

    wait_for(lambda: Result.objects.filter(monitor=running).count() >= 3, what="3 results")
    failed = Result.objects.filter(monitor=running).first()
    assert (failed.status, failed.message) == (Result.Status.FAILED, "connection refused")
    assert not Result.objects.filter(monitor=disabled).exists()


# --- Embedded shape: one command, SQLite, file-system broker --------------------------------


class Browser:
    """Just enough of a browser to sign in to the Django admin and submit a form."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=10) as response:
            return response.read().decode()

    def post_form(self, path: str, fields: dict[str, str]) -> str:
        page = self.get(path)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        data = urllib.parse.urlencode({**fields, "csrfmiddlewaretoken": token}).encode()
        request = urllib.request.Request(
            self.base + path, data=data, headers={"Referer": self.base + path}
        )
        with self.opener.open(request, timeout=10) as response:
            return response.read().decode()


def start_embedded(data_dir: Path, port: int) -> subprocess.Popen:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        {
            "NANOMON_DATA_DIR": str(data_dir),
            "PORT": str(port),
            "DJANGO_SUPERUSER_PASSWORD": "embedded-secret-1",
            "WEB_CONCURRENCY": "1",
            "NANOMON_WORKER_CONCURRENCY": "2",
        }
    )
    return subprocess.Popen(
        [sys.executable, "-m", "nanomon.embedded"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def sqlite_results(data_dir: Path) -> list[tuple]:
    with sqlite3.connect(data_dir / "nanomon.sqlite3") as db:
        return db.execute(
            "SELECT monitor_name, status, message FROM results_result ORDER BY date"
        ).fetchall()


def test_the_embedded_command_runs_everything_and_stops_on_ctrl_c(tmp_path):
    port = refused_port()
    base = f"http://127.0.0.1:{port}"
    runner = start_embedded(tmp_path, port)
    try:

        def signed_in_admin():
            try:
                browser = Browser(base)
                browser.post_form(
                    "/admin/login/?next=/admin/",
                    {"username": "admin", "password": "embedded-secret-1", "next": "/admin/"},
                )
                return browser if "Log out" in browser.get("/admin/") else None
            except OSError:
                return None

        browser = wait_for(signed_in_admin, every=0.5, what="the admin to answer")
        with serve_app(build_test_app()) as server:
            saved_at = time.monotonic()
            browser.post_form(
                "/admin/monitors/monitor/add/",
                {
                    "name": "embedded web",
                    "kind": "http",
                    "target": server.url("/status/404"),
                    "interval": "1s",
                    "rule": "status == 200",
                    "enabled": "on",
                    "properties": "{}",
                },
            )
            wait_for(lambda: sqlite_results(tmp_path), what="a first result")
            print(f"embedded: first result {time.monotonic() - saved_at:.2f}s after the save")
            rows = wait_for(lambda: len(sqlite_results(tmp_path)) >= 2 and sqlite_results(tmp_path))
        assert rows[0] == ("embedded web", 1, "Rule violated: status == 200")
    finally:
        output = stop(runner, signal.SIGINT)
    assert runner.returncode == 0, output[-4000:]
    assert "Created admin user 'admin'" in output
    assert "nanomon: stopped" in output

    # A second start reuses the data: no new admin, the monitor is still there and runs again.
    runner = start_embedded(tmp_path, port)
    try:
        before = len(sqlite_results(tmp_path))
        wait_for(lambda: len(sqlite_results(tmp_path)) > before, what="results after a restart")
    finally:
        output = stop(runner, signal.SIGINT)
    assert "Created admin user" not in output
    assert runner.returncode == 0, output[-4000:]
