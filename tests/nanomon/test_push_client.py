"""``python -m nanomon.push URL -- command``, run as a job runs it, against a live server."""

from __future__ import annotations

import subprocess
import sys

import pytest

from loop.ping_groups import RECORDER
from results.models import Result

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def recorder_released():
    """The live server records pings through the group recorder's own connection: closed
    after each test, so the test database can be flushed and dropped."""
    yield
    RECORDER.release_connection()


@pytest.fixture
def ping_url(live_server, make_monitor):
    monitor = make_monitor(name="job", kind="push", target="cron job", interval="1h")
    return monitor, f"{live_server.url}/ping/{monitor.push_token}"


def push(url: str, *command: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "nanomon.push", url, "--retries", "0", "--", *command],
        capture_output=True, timeout=60, **kwargs,
    )  # fmt: skip


def test_a_failing_command_reports_its_exit_code_output_and_duration(ping_url):
    monitor, url = ping_url
    done = push(url, "sh", "-c", "echo working; sleep 0.2; echo broke >&2; exit 3")
    assert done.returncode == 3
    assert done.stdout == b"working\n"  # the output still reaches the terminal
    assert done.stderr == b"broke\n"
    (result,) = Result.objects.filter(monitor=monitor)
    assert result.status == 1
    assert result.outputs["exitCode"] == 3
    assert "working" in result.message
    assert "broke" in result.message
    assert result.outputs["duration"] >= 200


def test_a_succeeding_command_is_ok_and_only_the_tail_is_sent(ping_url):
    monitor, url = ping_url
    done = push(url, sys.executable, "-c", "print('x' * 50000 + 'END')")
    assert done.returncode == 0
    (result,) = Result.objects.filter(monitor=monitor)
    assert result.status == 0
    assert result.message.endswith("END")
    assert len(result.message) <= 10_000


def test_a_command_that_cannot_start_reports_127(ping_url):
    monitor, url = ping_url
    assert push(url, "/nonexistent/command").returncode == 127
    (result,) = Result.objects.filter(monitor=monitor)
    assert result.outputs["exitCode"] == 127
    assert "cannot run" in result.message


def test_an_unreachable_server_never_changes_the_jobs_exit_code(live_server):
    done = push("http://127.0.0.1:9/ping/abc", "true")
    assert done.returncode == 0
    assert b"nanomon-push" in done.stderr


def test_a_wrong_token_says_so_and_the_job_still_runs(live_server):
    done = push(f"{live_server.url}/ping/nosuchtoken", "sh", "-c", "exit 5")
    assert done.returncode == 5
    assert b"404, no such push monitor" in done.stderr


def test_the_script_in_bin_runs_without_django(ping_url, tmp_path):
    monitor, url = ping_url
    script = __import__("pathlib").Path(__file__).parents[2] / "bin" / "nanomon-push"
    done = subprocess.run(
        [str(script), url, "--", "true"], capture_output=True, timeout=60,
        cwd=tmp_path, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert Result.objects.get(monitor=monitor).status == 0


def test_usage_errors_are_clear():
    done = subprocess.run(
        [sys.executable, "-m", "nanomon.push", "ftp://x/ping/t", "--", "true"],
        capture_output=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert b"must start with http:// or https://" in done.stderr
