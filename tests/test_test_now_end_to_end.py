""" "Test now" end to end (issue 19 item 5, "No request can block the web server"): gunicorn as
docs/deployment.md starts it (gunicorn.conf.py: threads), real Celery worker and beat on PostgreSQL
and Redis, and the embedded shape on SQLite with its SQLite broker.

Before, a test ran inside the web worker: three slow "Test now" by one editor made
``/api/health`` fail 11 of 11 probes over 33 s. Now the checks run on the workers and a web
process only waits (a thread) for their result. The figures (latency of pages and health while
ten slow tests run) are printed; the asserted bounds are generous.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token

from monitors.models import OneOffCheck
from monitors.services import monitor_create
from results.models import Result
from tests.support.http_servers import build_test_app, refused_port, serve_app
from tests.support.personas import EDITOR_PERMISSIONS, user_with
from tests.test_end_to_end import (  # noqa: F401  (celery_processes is a fixture)
    celery_processes,
    largest_gaps,
    start_embedded,
    stop,
    wait_for,
)

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: str
    seconds: float

    def json(self) -> dict:
        return json.loads(self.body)


def call(url: str, *, token: str = "", body: object = None, timeout: float = 60) -> Answer:
    """One request (POST when there is a body); an HTTP error is an answer too."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    if token:
        request.add_header("Authorization", f"Token {token}")
    if data:
        request.add_header("Content-Type", "application/json")
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, headers, text = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        status, headers, text = error.code, dict(error.headers), error.read()
    return Answer(status, headers, text.decode(), time.monotonic() - started)


def start_web(env: dict[str, str], log: Path, port: int) -> subprocess.Popen:
    """gunicorn as docs/deployment.md starts it (from the checkout: gunicorn.conf.py applies), after
    its ``collectstatic`` (pages name hashed static files)."""
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT, env=env, check=True,
    )  # fmt: skip
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "nanomon.wsgi",
             "--bind", f"127.0.0.1:{port}", "--workers", "2"],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def answers() -> bool:
        try:
            call(f"http://127.0.0.1:{port}/api/health", timeout=2)
        except OSError:
            return False
        return True

    wait_for(answers, what="gunicorn to answer")
    return process


def editor_tokens(count: int) -> list[str]:
    tokens = []
    for number in range(count):
        user = user_with(f"editor{number}", EDITOR_PERMISSIONS)
        tokens.append(Token.objects.create(user=user).key)
    return tokens


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@pytest.mark.usefixtures("celery_processes")
def test_pages_and_health_stay_fast_while_ten_slow_tests_run(service_env, tmp_path):
    test_timeout = 8
    env = {
        **service_env,
        "NANOMON_TEST_TIMEOUT": f"{test_timeout}s",
        "NANOMON_WEB_THREADS": "12",
        "NANOMON_PUBLIC_READ": "true",
    }
    port = refused_port()
    base = f"http://127.0.0.1:{port}"
    web = start_web(env, tmp_path / "web.log", port)
    tokens = editor_tokens(5)
    try:
        with serve_app(build_test_app()) as server:
            # The monitoring loop goes on meanwhile: a monitor every second.
            steady = monitor_create(
                name="steady", kind="http", target=server.url("/ok"), interval="1s", enabled=True
            )
            wait_for(lambda: Result.objects.filter(monitor=steady).exists(), what="a result")
            slow = {"target": server.url("/sleep?seconds=3600"), "properties": {"timeout": "30s"}}
            answers: list[Answer | None] = [None] * 10

            def test_now(index: int) -> None:
                answers[index] = call(f"{base}/api/monitors/test", token=tokens[index // 2],
                                      body=slow)  # fmt: skip

            threads = [threading.Thread(target=test_now, args=(n,)) for n in range(10)]
            since = timezone.now()
            for thread in threads:
                thread.start()
            wait_for(lambda: OneOffCheck.objects.count() == 10, what="10 tests in flight")
            third = call(f"{base}/api/monitors/test", token=tokens[0], body=slow)

            probes: dict[str, list[Answer]] = {"/api/health": [], "/": [], "/dashboard": []}
            while any(thread.is_alive() for thread in threads):
                for path, seen in probes.items():
                    seen.append(call(base + path, timeout=30))
                time.sleep(0.2)
            for thread in threads:
                thread.join()
            until = timezone.now()
            connection.close()
    finally:
        stop(web)
    log = (tmp_path / "web.log").read_text()
    assert "Traceback" not in log, log[-4000:]

    for path, seen in probes.items():
        times = [answer.seconds for answer in seen]
        print(
            f"{path}: {len(seen)} requests while 10 tests ran, statuses "
            f"{sorted({answer.status for answer in seen})}, median {percentile(times, 0.5):.3f}s, "
            f"p95 {percentile(times, 0.95):.3f}s, max {max(times):.3f}s"
        )
        assert {answer.status for answer in seen} == {200}, [a.body for a in seen][:3]
        assert max(times) < 2, times
    took = sorted(answer.seconds for answer in answers)
    print(f"10 slow tests answered in {took[0]:.2f}s to {took[-1]:.2f}s (limit {test_timeout}s)")
    for answer in answers:
        assert answer.status == 200, answer.body
        assert answer.json()["message"] == (
            f"timed out after {test_timeout}s, the longest a test may take (NANOMON_TEST_TIMEOUT)"
        )
        assert answer.seconds < test_timeout + 2
    assert third.status == 429, third.body
    assert third.seconds < 2
    gap = largest_gaps([steady.id], since, until)[steady.id]
    print(f"the 1s monitor's largest gap between runs meanwhile: {gap:.2f}s")
    assert gap <= 3


def test_with_no_worker_running_a_test_answers_504_in_time(service_env, tmp_path):
    env = {**service_env, "NANOMON_TEST_TIMEOUT": "2s"}
    port = refused_port()
    base = f"http://127.0.0.1:{port}"
    web = start_web(env, tmp_path / "web.log", port)
    [token] = editor_tokens(1)
    try:
        answer = call(
            f"{base}/api/monitors/test", token=token, body={"target": f"127.0.0.1:{refused_port()}"}
        )
        health = call(f"{base}/api/health")
    finally:
        stop(web)
        connection.close()

    print(f"no worker: {answer.status} after {answer.seconds:.2f}s: {answer.body}")
    assert answer.status == 504
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert answer.json()["detail"] == (
        "no worker answered this test within 2s (NANOMON_TEST_TIMEOUT): are the Celery "
        "workers running, and does one consume the 'tests' queue?"
    )
    assert 2 <= answer.seconds < 5
    assert health.seconds < 2
    assert not OneOffCheck.objects.exists()


def test_the_embedded_shape_runs_a_test_on_its_worker(tmp_path):
    port = refused_port()
    base = f"http://127.0.0.1:{port}"
    runner = start_embedded(tmp_path, port)
    try:

        def ready() -> bool:
            try:
                return call(f"{base}/api/health", timeout=2).status in {200, 503}
            except OSError:
                return False

        wait_for(ready, every=0.5, what="the embedded web server")
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE"}
        }
        created = subprocess.run(
            [sys.executable, "manage.py", "drf_create_token", "admin"],
            cwd=ROOT, env={**env, "NANOMON_DATA_DIR": str(tmp_path)},
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        token = created.stdout.split()[2]
        with serve_app(build_test_app()) as server:
            answer = call(
                f"{base}/api/monitors/test",
                token=token,
                body={"target": server.url("/status/404"), "rule": "status == 200"},
            )
    finally:
        output = stop(runner, signal.SIGINT)
    print(f"embedded: {answer.status} in {answer.seconds:.2f}s")
    assert answer.status == 200, (answer.body, output[-3000:])
    assert (answer.json()["status"], answer.json()["message"]) == (
        1,
        "Rule violated: status == 200",
    )
    assert runner.returncode == 0, output[-4000:]
