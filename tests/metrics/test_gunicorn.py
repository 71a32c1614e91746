"""The embedded shape for real: SQLite, gunicorn with two workers, PROMETHEUS_ENABLE=true.

The engine records a run on SQLite (the counters' upsert there), and the web server's own
metrics (django-prometheus) add up across both workers in multi-process mode, also after a
worker exits and gunicorn replaces it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.metrics.support import Exposition
from tests.support.http_servers import refused_port

ROOT = Path(__file__).resolve().parents[2]
STATUS_REQUESTS = 24


SCRAPE_TOKEN = "gunicorn-scrape-token"


def _get(url: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {SCRAPE_TOKEN}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status, response.read()


def _children(pid: int) -> set[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    return {int(line) for line in found.stdout.split()}


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def embedded_env(tmp_path):
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PROMETHEUS_", "DJANGO_", "DATABASE_", "CELERY_"))
        and name not in {"SERVER_SOFTWARE", "NANOMON_DATA_DIR"}
    }
    env.update(
        NANOMON_DATA_DIR=str(tmp_path / "data"),
        PROMETHEUS_ENABLE="true",
        PROMETHEUS_BEARER_TOKEN=SCRAPE_TOKEN,
        DJANGO_SETTINGS_MODULE="nanomon.settings",
        PYTHONPATH=str(ROOT),
    )
    return env


def test_gunicorn_workers_serve_the_same_totals_on_sqlite(embedded_env, tcp_port, tmp_path):
    def manage(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=embedded_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    manage("migrate", "-v0")
    stored = manage(
        "shell",
        "-c",
        "from monitors.services import monitor_create\n"
        "from tests.metrics.support import run_due_monitors\n"
        f"monitor_create(name='Embedded tcp', kind='tcp', target='127.0.0.1:{tcp_port}', "
        "interval='1m')\n"
        f"monitor_create(name='Embedded down', kind='tcp', target='127.0.0.1:{refused_port()}', "
        "interval='1m')\n"
        "print(run_due_monitors())\n",
    )
    assert stored.strip().splitlines()[-1] == "2"

    port = refused_port()
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "gunicorn.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "nanomon.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", "2", "--graceful-timeout", "5"],
        cwd=ROOT, env=embedded_env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip

    def healthy() -> bool:
        try:
            return _get(f"{base}/api/health")[0] == 200
        except OSError:
            return server.poll() is not None  # stop waiting if it died

    def status_count() -> float:
        page = Exposition(_get(f"{base}/metrics")[1].decode())
        return sum(
            sample.value
            for sample in page.find(
                "django_http_requests_total_by_view_transport_method_total", view="metrics:status"
            )
        )

    try:
        _wait_for(healthy, 30, "gunicorn to answer")
        assert server.poll() is None, (tmp_path / "gunicorn.log").read_text()[-3000:]
        _wait_for(lambda: len(_children(server.pid)) == 2, 30, "two workers")
        for _ in range(STATUS_REQUESTS):
            assert _get(f"{base}/api/status")[0] == 200

        # Whichever worker answers, the scrape adds up both.
        assert [status_count() for _ in range(4)] == [STATUS_REQUESTS] * 4

        page = Exposition(_get(f"{base}/metrics")[1].decode())
        assert page.value("nanomon_embedded_tcp", result="_status", type="tcp") == 0
        assert page.value("nanomon_embedded_down", result="_status", type="tcp") == 2
        assert page.value("nanomon_probes_total", type="tcp", status="ok") == 1
        assert page.value("nanomon_probes_total", type="tcp", status="failed") == 1
        assert page.value("nanomon_workers_seen") == 1
        assert page.find("django_db_execute_total", vendor="sqlite")

        # A worker exits; gunicorn starts another, which folds the old one's files in.
        workers = _children(server.pid)
        gone = min(workers)
        os.kill(gone, signal.SIGTERM)
        _wait_for(
            lambda: (now := _children(server.pid)) and gone not in now and len(now) == 2,
            30,
            "gunicorn to replace the worker",
        )
        folder = Path(embedded_env["NANOMON_DATA_DIR"]) / "prometheus"
        _wait_for(
            lambda: not list(folder.glob(f"*_{gone}.db")), 30, "the exited worker's files to fold"
        )
        assert (folder / "counter_archive.db").exists()
        assert [status_count() for _ in range(4)] == [STATUS_REQUESTS] * 4
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
