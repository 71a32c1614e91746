"""The embedded shape's supervisor (nanomon/supervisor.py): a child that dies is restarted with
back-off and a line naming it; only SIGINT / SIGTERM stops everything; /api/status and the
dashboard show the restarts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from nanomon.supervisor import STATE_FILE, supervisor_status
from tests.support.http_servers import build_test_app, refused_port, serve_app
from tests.test_end_to_end import (
    ROOT,
    add_http_monitor_in_admin,
    signed_in_admin,
    sqlite_results,
    start_embedded,
    stop,
    wait_for,
)

pytestmark = pytest.mark.e2e


def read_state(folder: Path) -> dict | None:
    try:
        return json.loads((folder / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None


def start_supervisor(folder: Path, commands: dict[str, list[str]]) -> subprocess.Popen:
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from nanomon.supervisor import Supervisor
        sys.exit(Supervisor({commands!r}, cwd=Path({str(folder)!r}),
                            state_dir=Path({str(folder)!r})).run())
        """
    )
    return subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_a_child_that_dies_is_restarted_with_back_off_and_named(tmp_path):
    flaky = [sys.executable, "-c", "import sys, time; time.sleep(0.3); sys.exit(3)"]
    steady = [sys.executable, "-c", "import time; time.sleep(600)"]
    runner = start_supervisor(tmp_path, {"flaky": flaky, "steady": steady})
    try:
        state = wait_for(
            lambda: (s := read_state(tmp_path)) and s["children"]["flaky"]["restarts"] >= 3 and s,
            what="three restarts of the flaky child",
        )
        assert state["children"]["flaky"]["lastExitCode"] == 3
        assert state["children"]["steady"]["restarts"] == 0
        assert state["children"]["steady"]["running"] is True
        steady_pid = state["children"]["steady"]["pid"]
    finally:
        output = stop(runner, signal.SIGTERM)
    assert runner.returncode == 0
    lines = [line for line in output.splitlines() if "flaky exited" in line]
    assert lines[0].startswith("nanomon: flaky exited with code 3 after 0s; restarting it in 1s")
    # Back-off doubles while the child keeps dying young: 1 s, 2 s, 4 s.
    assert "restarting it in 2s" in lines[1]
    assert "restarting it in 4s" in lines[2]
    assert "nanomon: stopped" in output
    with pytest.raises(ProcessLookupError):
        os.kill(steady_pid, 0)
    assert read_state(tmp_path)["children"]["steady"]["running"] is False


def test_a_killed_supervisor_takes_its_children_with_it(tmp_path):
    steady = [sys.executable, "-c", "import time; time.sleep(600)"]
    runner = start_supervisor(tmp_path, {"steady": steady})
    state = wait_for(lambda: read_state(tmp_path), what="the state file")
    child = state["children"]["steady"]["pid"]
    runner.kill()
    runner.wait()

    def child_gone():
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return True
        # A zombie until init reaps it counts as gone.
        return Path(f"/proc/{child}/stat").read_text().split()[2] == "Z"

    wait_for(child_gone, what="the orphaned child to stop")
    assert supervisor_status(tmp_path) is None  # its supervisor is gone


def test_status_names_recent_deaths_only(tmp_path):
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    recent = (now - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    old = (now - timedelta(days=2)).isoformat().replace("+00:00", "Z")
    state = {
        "pid": os.getpid(),
        "startedAt": old,
        "children": {
            "worker": {"restarts": 2, "lastExitCode": 1, "lastDeathAt": recent},
            "beat": {"restarts": 1, "lastExitCode": -9, "lastDeathAt": old},
            "web": {"restarts": 0, "lastExitCode": None, "lastDeathAt": None},
        },
    }
    (tmp_path / STATE_FILE).write_text(json.dumps(state))

    status = supervisor_status(tmp_path, now=now)

    assert [death["name"] for death in status["recentDeaths"]] == ["worker"]
    assert status["children"]["beat"]["restarts"] == 1


def test_the_embedded_shape_restarts_a_killed_worker_and_says_so(tmp_path):
    port = refused_port()
    base = f"http://127.0.0.1:{port}"
    runner = start_embedded(tmp_path, port)
    try:
        browser = wait_for(lambda: signed_in_admin(base), every=0.5, what="the admin to answer")
        with serve_app(build_test_app()) as server:
            add_http_monitor_in_admin(browser, "supervised", server.url("/ok"))
            wait_for(lambda: sqlite_results(tmp_path), what="a first result")
            worker = read_state(tmp_path)["children"]["worker"]["pid"]
            os.kill(worker, signal.SIGKILL)
            state = wait_for(
                lambda: (
                    (s := read_state(tmp_path))
                    and s["children"]["worker"]["restarts"] == 1
                    and s["children"]["worker"]["running"]
                    and s
                ),
                what="the worker to be restarted",
            )
            restarted_at = time.time()
            count = len(sqlite_results(tmp_path))
            wait_for(lambda: len(sqlite_results(tmp_path)) > count + 2, what="results again")
            print(f"results resumed {time.time() - restarted_at:.1f}s after the restart")

            status = json.loads(browser.get("/api/status"))
            dashboard = browser.get("/dashboard")
    finally:
        output = stop(runner, signal.SIGINT)
    assert state["children"]["worker"]["lastExitCode"] == -signal.SIGKILL
    assert status["supervisor"]["children"]["worker"]["restarts"] == 1
    assert [death["name"] for death in status["supervisor"]["recentDeaths"]] == ["worker"]
    assert "NanoMon restarted a process that died" in dashboard
    assert "worker (1 restart, last exit code -9" in dashboard
    assert f"nanomon: worker exited with code -{int(signal.SIGKILL)}" in output
    assert runner.returncode == 0, output[-4000:]
