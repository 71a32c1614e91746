"""Quiet logs with real processes: a Celery worker and beat started as docs/deployment.md says
(``--loglevel INFO``) write no line per dispatcher tick, one summary line per
``NANOMON_SUMMARY_INTERVAL``, and still an ERROR (with its traceback) for a task that raises.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery import Celery
from django.db import connection

from monitors.services import monitor_create
from results.models import Result
from tests.support.http_servers import build_test_app, refused_port, serve_app

ROOT = Path(__file__).resolve().parent.parent
RUN_SECONDS = 30
pytestmark = pytest.mark.e2e


def wait_for(condition, *, timeout: float = 60, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    pytest.fail(f"gave up after {timeout}s waiting for {what}")


def send_failing_task(env: dict[str, str]) -> None:
    """Publish a summary task whose argument makes it raise, as another producer would.

    The connection is named explicitly: Celery prefers this process's ``CELERY_BROKER_URL``
    variable over an app's own broker setting."""
    # Not the current app: shared tasks of later tests would publish through it.
    producer = Celery("nanomon-test-producer", set_as_current=False)
    producer.conf.broker_transport_options = {"global_keyprefix": env["NANOMON_BROKER_KEY_PREFIX"]}
    try:
        with producer.connection_for_write(env["CELERY_BROKER_URL"]) as broker:
            producer.send_task(
                "metrics.tasks.log_summary",
                kwargs={"window_seconds": "not a number"},
                connection=broker,
            )
    finally:
        producer.close()


def test_a_worker_and_beat_at_info_log_a_summary_instead_of_each_tick(service_env, tmp_path):
    env = {**service_env, "NANOMON_SUMMARY_INTERVAL": "5s"}
    logs = {name: tmp_path / f"{name}.log" for name in ("worker", "beat")}
    arguments = {
        "worker": ["worker", "--concurrency", "2", "--without-gossip", "--without-mingle"],
        "beat": ["beat"],
    }
    with serve_app(build_test_app()) as server:
        ok = monitor_create(
            name="quiet ok", kind="http", target=server.url("/ok"), interval="1s", enabled=True
        )
        monitor_create(
            name="quiet refused", kind="tcp", target=f"127.0.0.1:{refused_port()}",
            interval="1s", enabled=True,
        )  # fmt: skip
        processes = []
        for name, extra in arguments.items():
            command = [sys.executable, "-m", "celery", "-A", "nanomon", *extra]
            command += ["--loglevel", "INFO"]  # as docs/deployment.md and nanomon.embedded
            with logs[name].open("w") as output:
                processes.append(
                    subprocess.Popen(
                        command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
                    )
                )
        try:
            wait_for(lambda: "ready." in logs["worker"].read_text(), what="the worker")
            started = time.monotonic()
            send_failing_task(env)
            time.sleep(max(0.0, RUN_SECONDS - (time.monotonic() - started)))
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
    runs = Result.objects.filter(monitor=ok).count()
    connection.close()

    worker, beat = logs["worker"].read_text(), logs["beat"].read_text()
    timestamped = [line for line in (worker + beat).splitlines() if line[:2] == "20"]
    summaries = [line for line in worker.splitlines() if " INFO nanomon.summary: " in line]
    print(
        f"{RUN_SECONDS}s, {runs} runs of the ok monitor: {len(timestamped)} log lines "
        f"(worker {len(worker.splitlines())}, beat {len(beat.splitlines())} with banners), "
        f"{len(summaries)} summaries; last: {summaries[-1] if summaries else None}"
    )
    assert runs >= RUN_SECONDS // 2  # the loop ran every second…
    for tick_line in ("Sending due task", "dispatch_due_monitors[", "run_probe_batch["):
        assert tick_line not in worker + beat  # …and said nothing about it at INFO
    assert len(summaries) >= 3, worker[-3000:]
    assert any(" runs of 2 monitors (ok " in line for line in summaries), summaries
    assert " ERROR celery.app.trace: Task metrics.tasks.log_summary[" in worker
    assert "raised unexpected: TypeError" in worker
    assert "Traceback" in worker
    # Little else: start-up, the monitors' first transitions, the summaries, the error.
    assert len(timestamped) <= 12 + len(summaries), "\n".join(timestamped)
