"""Alerting end to end with real processes: a Celery worker and beat on PostgreSQL and Redis,
a monitor failing against a local TCP port, a real SMTP server (the ALERT_SMTP_* channel) and
a webhook receiver. Exactly one alert per outage and one recovery, and nothing more after a
restart of every process."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from alerts.configuration import channel_create
from alerts.models import Transition
from monitors.services import monitor_create
from results.models import Result
from tests.support.http_servers import refused_port
from tests.support.receivers import WebhookReceiver
from tests.support.smtp_server import LocalSmtpServer

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def wait_for(condition, *, timeout: float = 90, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"gave up after {timeout}s waiting for {what}")


class Processes:
    """Worker + beat, started and stopped together; their output goes to files."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.children: list[tuple[subprocess.Popen, Path]] = []
        self.generation = 0

    def start(self) -> None:
        self.generation += 1
        for role, extra in (
            ("worker", ["--concurrency", "2", "--without-gossip", "--without-mingle"]),
            ("beat", []),
        ):
            log = self.logs / f"{role}-{self.generation}.log"
            with log.open("w") as output:
                process = subprocess.Popen(
                    [sys.executable, "-m", "celery", "-A", "nanomon", role, *extra,
                     "--loglevel", "INFO"],
                    cwd=ROOT, env=self.env, stdout=output, stderr=subprocess.STDOUT,
                )  # fmt: skip
            self.children.append((process, log))

    def stop(self) -> None:
        for process, _ in self.children:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process, _ in self.children:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        text = "".join(log.read_text() for _, log in self.children)
        self.children = []
        assert "Traceback" not in text, text[-4000:]


@pytest.fixture
def processes(service_env, tmp_path):
    env = {
        **service_env,
        "ALERT_FAIL_COUNT": "3",
        "ALERT_SWEEP_INTERVAL": "2s",
        "ALERT_LINK_BASEURL": "https://nanomon.example.org",
    }
    running = Processes(env, tmp_path)
    yield running
    running.stop()
    connection.close()


def test_one_alert_per_outage_one_recovery_and_nothing_after_restarts(processes):
    port = refused_port()
    with LocalSmtpServer() as smtp, WebhookReceiver() as receiver:
        processes.env.update(
            ALERT_SMTP_HOST="127.0.0.1",
            ALERT_SMTP_PORT=str(smtp.port),
            ALERT_SMTP_SECURITY="none",
            ALERT_SMTP_FROM="NanoMon <nanomon@example.org>",
            ALERT_SMTP_TO="ops@example.org,dev@example.org",
        )
        channel_create(
            name="hook", kind="webhook", config={"url": receiver.url("/hook?state={STATE}")}
        )
        monitor = monitor_create(
            name="e2e tcp", kind="tcp", target=f"127.0.0.1:{port}", interval="1s", enabled=True
        )
        processes.start()

        def runs() -> int:
            return Result.objects.filter(monitor=monitor).count()

        [alert] = smtp.wait_for_mails(1, timeout=90)
        assert alert.message["Subject"] == "NanoMon alert for: e2e tcp"
        assert "connection refused" in alert.part("text/plain")
        assert [r.query for r in receiver.wait_for(1, timeout=30)] == [{"state": "down"}]
        seen = runs()
        wait_for(lambda: runs() >= seen + 4, what="more failing runs")

        processes.stop()
        processes.start()
        seen = runs()
        wait_for(lambda: runs() >= seen + 4, what="failing runs after a restart")
        assert len(smtp.mails) == 1
        assert len(receiver.requests) == 1

        with socket.create_server(("127.0.0.1", port)):  # the target comes back
            _, up = smtp.wait_for_mails(2, timeout=90)
            assert up.message["Subject"] == "NanoMon recovered: e2e tcp"
            assert [r.query["state"] for r in receiver.wait_for(2, timeout=30)] == ["down", "up"]

            processes.stop()
            processes.start()
            seen = runs()
            wait_for(lambda: runs() >= seen + 4, what="OK runs after a restart")
            time.sleep(2.5)  # one more sweeper pass

        assert len(smtp.mails) == 2
        assert len(receiver.requests) == 2
        transitions = Transition.objects.filter(monitor=monitor).order_by("happened_at")
        assert [(t.from_state, t.to_state) for t in transitions] == [
            ("unknown", "down"),
            ("down", "up"),
        ]
