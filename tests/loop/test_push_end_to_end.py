"""A push monitor end to end: a real worker and beat record its missed deadlines on time, a real
SMTP server gets the down alert, and a ping over HTTP to gunicorn (the ping URL as a job sends
it, through the documented web command) recovers it, with the recovery mail."""

from __future__ import annotations

import socket
import subprocess
import sys
import urllib.request

import pytest

from alerts.models import Transition
from monitors.services import monitor_create
from results.models import Result
from tests.alerts.test_end_to_end import ROOT, Processes, wait_for
from tests.support.smtp_server import LocalSmtpServer

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def smtp():
    with LocalSmtpServer() as server:
        yield server


@pytest.fixture
def processes(service_env, tmp_path, smtp):
    """Worker and beat; every process (gunicorn too) with the same alerting settings."""
    env = {
        **service_env, "ALERT_FAIL_COUNT": "2", "ALERT_SWEEP_INTERVAL": "2s",
        "ALERT_SMTP_HOST": "127.0.0.1", "ALERT_SMTP_PORT": str(smtp.port),
        "ALERT_SMTP_SECURITY": "none", "ALERT_SMTP_FROM": "NanoMon <nanomon@example.org>",
        "ALERT_SMTP_TO": "ops@example.org",
    }  # fmt: skip
    running = Processes(env, tmp_path)
    yield running
    running.stop()


@pytest.fixture
def web(processes, tmp_path):
    """gunicorn as docs/deployment.md runs it, with the worker's environment (one broker)."""
    port = free_port()
    log = tmp_path / "gunicorn.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "nanomon.wsgi", "--bind", f"127.0.0.1:{port}",
             "--workers", "1"],
            cwd=ROOT, env=processes.env, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            return urllib.request.urlopen(f"{base}/api/health", timeout=2).status == 200
        except OSError:
            return False

    wait_for(answers, what="gunicorn")
    yield base
    server.terminate()
    server.wait(timeout=20)
    assert "Traceback" not in log.read_text()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_missed_deadlines_alert_and_a_ping_recovers(processes, web, smtp):
    monitor = monitor_create(
        name="nightly", kind="push", target="backup job", interval="2s", enabled=True,
        properties={"grace": "1s"},
    )  # fmt: skip
    processes.start()

    [down] = smtp.wait_for_mails(1, timeout=90)
    assert down.message["Subject"] == "NanoMon alert for: nightly"
    assert "no ping within 2s (+1s grace)" in down.part("text/plain")
    missed = list(Result.objects.filter(monitor=monitor).order_by("scheduled_for"))
    assert all(r.message == "no ping within 2s (+1s grace)" for r in missed)
    slots = [r.scheduled_for for r in missed]
    assert len(slots) == len(set(slots))  # each missed period once

    with urllib.request.urlopen(f"{web}/ping/{monitor.push_token}", timeout=10) as answer:
        assert answer.read() == b"OK\n"
    mails = smtp.wait_for_mails(2, timeout=90)
    assert mails[1].message["Subject"] == "NanoMon recovered: nightly"
    changes = Transition.objects.filter(monitor=monitor).order_by("id")
    assert [(t.from_state, t.to_state) for t in changes][:2] == [
        ("unknown", "down"),
        ("down", "up"),
    ]
    ok = wait_for(lambda: Result.objects.filter(monitor=monitor, status=0).first(), what="ok")
    assert ok.outputs == {"exitCode": 0}
