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
from django.utils import timezone

from metrics import health
from metrics.models import EngineCounter, WorkerHeartbeat
from metrics.services import SLOTS_SKIPPED
from monitors.models import Monitor
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
def celery_processes(request, service_env, tmp_path):
    """A real worker and a real beat against the test database and an isolated broker.

    The worker runs 2 threads unless the test says otherwise (indirect parametrization with
    ``{"concurrency": N}``; ``None`` keeps the settings' default)."""
    concurrency = getattr(request, "param", {}).get("concurrency", 2)

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

    sizing = ("--concurrency", str(concurrency)) if concurrency else ()
    worker, worker_log = start("worker", "worker", *sizing, "--without-gossip", "--without-mingle")
    beat, beat_log = start("beat", "beat")
    # Measure from a running system, not from process start-up.
    wait_for(lambda: "ready." in worker_log.read_text(), what="the worker to be ready")
    # Beat's first tick, run by the worker (the tick's own log lines are filtered out).
    wait_for(lambda: WorkerHeartbeat.objects.exists(), what="the dispatcher's first tick")
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


def largest_gaps(monitor_ids, since, until) -> dict[int, float]:
    """Per monitor, the longest time between the starts of two consecutive runs in
    [since, until], counting the window's edges (a monitor that stopped shows its silence)."""
    dates: dict[int, list] = {monitor_id: [since] for monitor_id in monitor_ids}
    rows = Result.objects.filter(monitor_id__in=monitor_ids, date__gte=since, date__lte=until)
    for monitor_id, date in rows.order_by("date").values_list("monitor_id", "date"):
        dates[monitor_id].append(date)
    return {
        monitor_id: max(
            (later - earlier).total_seconds()
            for earlier, later in zip(runs, [*runs[1:], until], strict=True)
        )
        for monitor_id, runs in dates.items()
    }


@pytest.mark.parametrize("celery_processes", [{"concurrency": None}], indirect=True)
def test_a_monitor_whose_target_never_answers_delays_only_itself(celery_processes):
    """Issue 19 item 2: 40 monitors every 2 s beside monitors whose target never answers
    (one with a 15 s timeout on a 20 s interval, one stored before timeouts were checked
    against the interval: 10 s on 2 s). Every quick monitor keeps its interval."""
    interval, watch = 2.0, 40.0
    with serve_app(build_test_app()) as server:
        quick = [
            monitor_create(
                name=f"quick {number:02d}", kind="http", target=server.url("/ok"),
                interval="2s", enabled=True,
            ).id
            for number in range(40)
        ]  # fmt: skip
        hanging = server.url("/sleep?seconds=3600")
        slow = monitor_create(
            name="slow", kind="http", target=hanging, interval="20s",
            properties={"timeout": "15s"}, enabled=True,
        )  # fmt: skip
        legacy = monitor_create(
            name="legacy", kind="http", target=hanging, interval="2s",
            properties={"timeout": "1s"}, enabled=True,
        )  # fmt: skip
        # As a row saved before the timeout was checked against the interval could be.
        Monitor.objects.filter(pk=legacy.pk).update(properties={"timeout": "10s"})

        def every_quick_monitor_ran():
            ran = set(Result.objects.filter(monitor_id__in=quick).values_list("monitor", flat=True))
            return len(ran) == len(quick)

        wait_for(every_quick_monitor_ran, what="a result of every quick monitor")
        wait_for(lambda: Result.objects.filter(monitor=slow).exists(), what="the slow result")
        since = timezone.now()
        time.sleep(watch)
        until = timezone.now()

        gaps = largest_gaps(quick, since, until)
        runs = Result.objects.filter(monitor_id__in=quick, date__gte=since, date__lte=until)
        print(
            f"{len(quick)} monitors every {interval:g}s over {watch:g}s: "
            f"{runs.count()} results, largest gap per monitor: max {max(gaps.values()):.2f}s, "
            f"median {sorted(gaps.values())[len(gaps) // 2]:.2f}s"
        )
        slow_runs = list(Result.objects.filter(monitor=slow).order_by("date"))
        legacy_runs = list(Result.objects.filter(monitor=legacy).order_by("date"))
        print(
            f"slow: {[(r.message, round(r.duration_ms / 1000, 1)) for r in slow_runs]}; "
            f"legacy: {len(legacy_runs)} runs, lag "
            f"{[round(r.schedule_lag_seconds, 2) for r in legacy_runs]}"
        )
        assert max(gaps.values()) <= interval + 2, gaps
        assert slow_runs[0].message == "timed out after 15s"
        assert legacy_runs
        assert legacy_runs[0].message == "timed out after 10s"
        # Its runs outlast its interval: each later run skipped the slots its previous one
        # held it past, and they are counted (nanomon_schedule_slots_skipped_total).
        skipped = EngineCounter.objects.get(name=SLOTS_SKIPPED, label="http").value
        print(f"legacy: {skipped:g} slots skipped")
        assert skipped >= 4 * (len(legacy_runs) - 1)


def test_health_says_degraded_while_every_worker_is_frozen(celery_processes, client, settings):
    """Issue 19 item 4: /api/health said 200 while every worker was frozen. Freeze the only
    worker (SIGSTOP): health turns 503 naming the stale heartbeat, and 200 once it thaws."""
    worker, _ = celery_processes
    settings.NANOMON_HEALTH_WORKER_STALE_SECONDS = 30  # the least allowed, to keep this short
    health.forget_loop_check()

    def answer():
        health.forget_loop_check()
        response = client.get("/api/health")
        return response.status_code, response.content.decode()

    wait_for(lambda: answer()[0] == 200, what="a healthy service")
    frozen_at = time.monotonic()
    worker.send_signal(signal.SIGSTOP)
    try:
        _, text = wait_for(lambda: (found := answer())[0] == 503 and found, every=0.5)
        print(f"503 {time.monotonic() - frozen_at:.1f}s after the freeze: {text}")
        assert re.fullmatch(
            r"Error: Service is not healthy: no worker seen for \d+s \(limit 30s\)"
            r"(; dispatcher \d+s behind schedule \(limit 1m0s\))?",
            text,
        ), text
        assert client.get("/api/status").json()["healthy"] is False
    finally:
        worker.send_signal(signal.SIGCONT)
    thawed_at = time.monotonic()
    wait_for(lambda: answer()[0] == 200, every=0.5, what="health after the thaw")
    print(f"200 again {time.monotonic() - thawed_at:.1f}s after the thaw")


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


def signed_in_admin(base: str) -> Browser | None:
    """A browser signed in to the embedded shape's admin, or None while it does not answer."""
    try:
        browser = Browser(base)
        browser.post_form(
            "/admin/login/?next=/admin/",
            {"username": "admin", "password": "embedded-secret-1", "next": "/admin/"},
        )
        return browser if "Log out" in browser.get("/admin/") else None
    except OSError:
        return None


def add_http_monitor_in_admin(browser: Browser, name: str, target: str, rule: str = "") -> None:
    """Save a 1 s http monitor through the embedded shape's admin form, as a user would."""
    browser.post_form(
        "/admin/monitors/monitor/add/",
        {"name": name, "kind": "http", "target": target, "interval": "1s", "rule": rule,
         "enabled": "on", "properties": "{}"},
    )  # fmt: skip


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
        browser = wait_for(lambda: signed_in_admin(base), every=0.5, what="the admin to answer")
        with serve_app(build_test_app()) as server:
            saved_at = time.monotonic()
            add_http_monitor_in_admin(
                browser, "embedded web", server.url("/status/404"), rule="status == 200"
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
