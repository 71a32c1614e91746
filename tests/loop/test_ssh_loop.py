"""ssh monitors run by the loop as a worker runs them (claim, ``run_probe_batch``), against a
real OpenSSH server on loopback: what a run remembers reaches the next one through
``MonitorState.memory`` (the host key trusted on first use; log files' offsets), and a Failed
run keeps it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone

from loop.tasks import run_probe_batch
from monitors.models import Monitor
from monitors.scheduling import claim_due_monitors
from results.models import MonitorState, Result
from tests.support import ssh_server
from tests.support.ssh_server import SshServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def server() -> Iterator[SshServer]:
    if reason := ssh_server.skip_reason():
        pytest.skip(reason)
    with SshServer() as running:
        yield running


def run_due() -> Result:
    """Make the one monitor due now, claim it, run it as a worker does, and return the newest
    result (the next slot is a minute away: it is moved back rather than waited for)."""
    Monitor.objects.update(next_run_at=timezone.now() - timedelta(seconds=1))
    token, claims = claim_due_monitors(now=timezone.now(), limit=10, lease=timedelta(seconds=60))
    assert len(claims) == 1
    run_probe_batch(str(token), [[c.monitor_id, c.scheduled_for.isoformat()] for c in claims])
    return Result.objects.order_by("-id").first()


def ssh_monitor(make_monitor, server: SshServer, **properties: str):
    return make_monitor(
        now=timezone.now(),
        name="server",
        kind="ssh",
        target=f"127.0.0.1:{server.port}",
        interval="1m",
        rule="exitCode == 0" if "mode" not in properties else "",
        properties={"user": server.user, "password": server.password, **properties},
    )


def test_a_changed_host_key_fails_every_run_and_the_first_key_is_kept(make_monitor, server):
    monitor = ssh_monitor(make_monitor, server, command="true")
    first = run_due()
    remembered = MonitorState.objects.get(monitor=monitor).memory
    old = server.host_fingerprint
    server.replace_host_keys()
    changed = run_due()
    again = run_due()

    assert first.status == Result.Status.OK
    assert first.outputs["hostKeyFingerprint"] == old
    assert ssh_server.fingerprint(remembered["hostKey"]) == old
    message = f"host key changed: expected {old}, got {server.host_fingerprint}"
    assert (changed.status, changed.message) == (Result.Status.FAILED, message)
    assert (again.status, again.message) == (Result.Status.FAILED, message)
    assert MonitorState.objects.get(monitor=monitor).memory == remembered


def test_log_runs_count_only_the_lines_appended_since_the_last_run(make_monitor, server):
    server.write_log("app.log", "ERROR one\nok\n")
    ssh_monitor(make_monitor, server, mode="log", logDir=str(server.log_dir), logPattern="^ERROR")
    first = run_due()
    server.write_log("app.log", "ERROR two\nok\nERROR three\n")
    second = run_due()
    third = run_due()

    assert first.outputs["matchCount"] == 1
    assert second.outputs["matchCount"] == 2
    assert second.outputs["lastMatch"] == "ERROR three"
    assert third.outputs["matchCount"] == 0
