"""The ssh probe against a real OpenSSH server on loopback (tests.support.ssh_server): logins,
command mode, host keys (pinned and remembered), deadlines, and what it refuses. Process and
log modes: test_ssh_modes.py."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from monitors import netpolicy
from monitors.engine import CheckRequest, CheckStatus, run_check
from monitors.probes import remembers
from monitors.probes.base import ProbeFailure, ProbeResult, PropertyError
from monitors.probes.ssh import PROBE, split_target
from monitors.secrets import MASK, masked_properties
from tests.support import ssh_server
from tests.support.ssh_server import KEY_PASSPHRASE, SshServer


@pytest.fixture(scope="module")
def server() -> Iterator[SshServer]:
    if reason := ssh_server.skip_reason():
        pytest.skip(reason)
    with SshServer() as running:
        yield running


def probe(target: str, memory: dict | None = None, **properties: str) -> ProbeResult:
    parsed = PROBE.parse_properties(properties)
    return asyncio.run(PROBE.probe(target, parsed, dict(memory or {})))


def login(server: SshServer) -> dict[str, str]:
    return {"user": server.user, "password": server.password}


def target(server: SshServer) -> str:
    return f"127.0.0.1:{server.port}"


# --- Logging in and command mode ----------------------------------------------------------------


def test_a_password_login_runs_the_command_and_reports_its_exit_code_and_output(server):
    result = probe(target(server), command="echo hello; echo oops >&2; exit 3", **login(server))

    assert result.outputs["exitCode"] == 3
    assert result.outputs["stdout"] == "hello"
    assert result.outputs["stderr"] == "oops"
    assert result.value == result.outputs["respTime"] > 0
    # OpenSSH's preference: the ed25519 key of the two the server has.
    assert result.outputs["hostKeyFingerprint"] == server.host_fingerprint


def test_an_ipv6_target_and_a_host_name_log_in(server):
    ipv6 = probe(f"[::1]:{server.port}", command="echo $SSH_CONNECTION", **login(server))
    named = probe(f"localhost:{server.port}", command="true", **login(server))

    assert ipv6.outputs["stdout"].split()[2] == "::1"  # the server's address, as sshd saw it
    assert named.outputs["exitCode"] == 0


def test_a_key_with_a_passphrase_logs_in(server):
    result = probe(
        target(server),
        user=server.user,
        privateKey=server.private_key,
        passphrase=KEY_PASSPHRASE,
        command="id -un",
    )

    assert result.outputs["stdout"] == server.user
    assert result.outputs["exitCode"] == 0


def test_a_pem_key_without_a_passphrase_logs_in(server):
    result = probe(target(server), user=server.user, privateKey=server.pem_key, command="true")

    assert result.outputs["exitCode"] == 0


def test_a_wrong_password_fails_without_quoting_the_secrets(server):
    with pytest.raises(ProbeFailure) as failure:
        probe(target(server), user=server.user, password="not-the-password", command="true")

    assert str(failure.value) == "authentication failed (password)"


def test_logins_are_never_logged_with_the_user_or_password(server, caplog):
    caplog.set_level(logging.DEBUG)  # the root logger at its most talkative
    probe(target(server), command="true", **login(server))
    with pytest.raises(ProbeFailure):
        probe(target(server), user=server.user, password="wrong-password", command="true")

    assert server.user not in caplog.text
    assert server.password not in caplog.text
    assert "wrong-password" not in caplog.text


def test_a_key_the_server_does_not_know_fails(server, tmp_path):
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "k")], check=True
    )
    stranger = (tmp_path / "k").read_text()

    with pytest.raises(ProbeFailure, match=r"^authentication failed \(privateKey\)$"):
        probe(target(server), user=server.user, privateKey=stranger, command="true")


def test_the_workers_own_keys_agent_and_config_are_never_used(server, tmp_path, monkeypatch):
    # A key the server accepts, where ssh would find it: ~/.ssh/id_ed25519 and an agent.
    dot_ssh = tmp_path / ".ssh"
    dot_ssh.mkdir(mode=0o700)
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(dot_ssh / "id_ed25519")],
        check=True,
    )
    (dot_ssh / "config").write_text(f"Host *\n  User {server.user}\n  IdentitiesOnly no\n")
    with open(server.directory / "authorized_keys", "a") as authorized:
        authorized.write((dot_ssh / "id_ed25519.pub").read_text())
    agent = subprocess.run(
        ["ssh-agent", "-a", str(tmp_path / "agent.sock"), "-s"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    agent_pid = int(agent.stdout.split("SSH_AGENT_PID=")[1].split(";")[0])
    try:
        monkeypatch.setenv("HOME", str(tmp_path))
        monkeypatch.setenv("SSH_AUTH_SOCK", str(tmp_path / "agent.sock"))
        subprocess.run(["ssh-add", "-q", str(dot_ssh / "id_ed25519")], check=True)

        with pytest.raises(ProbeFailure, match=r"^authentication failed \(password\)$"):
            probe(target(server), user=server.user, password="wrong", command="true")
    finally:
        os.kill(agent_pid, signal.SIGTERM)


def test_an_encrypted_key_needs_its_passphrase(server):
    key = {"user": server.user, "privateKey": server.private_key, "command": "true"}
    with pytest.raises(ProbeFailure, match=r"^privateKey is encrypted: set passphrase$"):
        probe(target(server), **key)
    with pytest.raises(ProbeFailure, match=r"^privateKey could not be read: wrong passphrase\?$"):
        probe(target(server), passphrase="wrong", **key)


def test_output_is_cut_at_4_kib_and_invalid_utf8_is_replaced(server):
    result = probe(
        target(server),
        command="head -c 100000 /dev/zero | tr '\\0' a; printf '\\377ok' >&2",
        **login(server),
    )

    assert result.outputs["stdout"] == "a" * 4096
    assert result.outputs["stderr"] == "\ufffdok"
    assert result.outputs["exitCode"] == 0  # read to its end, so the exit code came


def test_a_command_ended_by_a_signal_reports_128_plus_its_number(server):
    result = probe(target(server), command="kill -TERM $$", **login(server))

    assert result.outputs["exitCode"] == 128 + 15


def test_the_template_rule_makes_a_failing_command_an_error(server):
    request = CheckRequest(
        "ssh", target(server), {**login(server), "command": "exit 1"}, PROBE.template["rule"]
    )
    result = asyncio.run(run_check(request))

    assert result.status == CheckStatus.ERROR
    assert result.message == "Rule violated: exitCode == 0"


# --- Host keys ------------------------------------------------------------------------------------


def test_the_first_run_remembers_the_host_key_and_later_runs_accept_it(server):
    assert remembers("ssh")
    first = probe(target(server), command="true", **login(server))
    assert first.memory == {"hostKey": server.host_key}

    again = probe(target(server), first.memory, command="true", **login(server))
    assert again.memory == first.memory


def test_a_changed_host_key_fails_and_the_engine_keeps_the_remembered_one():
    if reason := ssh_server.skip_reason():
        pytest.skip(reason)
    with SshServer() as own:
        properties = {**login(own), "command": "true"}
        first = asyncio.run(run_check(CheckRequest("ssh", target(own), properties)))
        old = own.host_fingerprint
        own.replace_host_keys()

        result = asyncio.run(
            run_check(CheckRequest("ssh", target(own), properties, memory=first.memory))
        )

    assert first.status == CheckStatus.OK
    assert first.memory is not None
    assert first.memory["hostKey"].startswith("ssh-ed25519 ")
    assert result.status == CheckStatus.FAILED
    assert result.message == (f"host key changed: expected {old}, got {own.host_fingerprint}")
    assert result.memory is None  # nothing new to remember: the loop keeps what it had


def test_a_pinned_key_line_is_accepted_and_chooses_the_key_type(server):
    ed25519 = probe(target(server), hostKey=server.host_key, command="true", **login(server))
    ecdsa = probe(target(server), hostKey=server.ecdsa_host_key, command="true", **login(server))

    assert ed25519.outputs["hostKeyFingerprint"] == server.host_fingerprint
    assert ecdsa.outputs["hostKeyFingerprint"] == server.ecdsa_fingerprint
    assert "hostKey" not in ecdsa.memory  # pinned: nothing to remember


def test_a_pinned_fingerprint_is_accepted(server):
    result = probe(target(server), hostKey=server.host_fingerprint, command="true", **login(server))

    assert result.outputs["hostKeyFingerprint"] == server.host_fingerprint


def test_a_pinned_fingerprint_that_does_not_match_fails_before_logging_in(server):
    other = ssh_server.fingerprint(server.pem_public_key)
    with pytest.raises(ProbeFailure) as failure:
        probe(target(server), hostKey=other, command="true", **login(server))

    assert str(failure.value) == (
        f"host key does not match hostKey: expected {other}, got {server.host_fingerprint}"
    )


def test_a_pinned_key_of_a_type_the_server_lacks_fails_naming_the_key_it_has(server):
    # The server has ed25519 and ECDSA host keys: an RSA key is never offered.
    pinned = server.pem_public_key
    with pytest.raises(ProbeFailure) as failure:
        probe(target(server), hostKey=pinned, command="true", **login(server))

    expected = ssh_server.fingerprint(pinned)
    assert str(failure.value) == (
        f"host key does not match hostKey: expected {expected}, got {server.host_fingerprint}"
    )


# --- Deadlines and connections ------------------------------------------------------------------


async def _probe_then_tasks(target_text: str, **properties: str) -> tuple[str, set]:
    try:
        await PROBE.probe(target_text, PROBE.parse_properties(properties), {})
    except ProbeFailure as error:
        message = str(error)
    else:
        message = ""
    for _ in range(3):
        await asyncio.sleep(0)
    return message, asyncio.all_tasks() - {asyncio.current_task()}


def _remote_processes(text: str) -> str:
    found = subprocess.run(["pgrep", "-af", text], capture_output=True, text=True)
    return found.stdout.strip()


def test_a_hanging_command_is_cut_at_the_deadline_and_killed_on_the_server(server):
    command = "sleep 3607"  # a number no other test uses
    message, tasks = asyncio.run(
        _probe_then_tasks(target(server), timeout="1s", command=command, **login(server))
    )

    # Its own deadline (the engine's, 0.5 s later, would not name the step), and no task left.
    assert message == "timed out after 1s (running the check)"
    assert tasks == set()
    deadline = time.monotonic() + 10
    while _remote_processes(command) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _remote_processes(command) == ""


def test_a_probe_cancelled_from_outside_kills_the_command_and_closes_the_connection(server):
    command = "sleep 3608"

    async def cancelled() -> set:
        parsed = PROBE.parse_properties({**login(server), "command": command, "timeout": "1m"})
        running = asyncio.ensure_future(PROBE.probe(target(server), parsed, {}))
        started = time.monotonic()
        while not _remote_processes(command):  # until the command runs on the server
            assert time.monotonic() < started + 10, "the command never started"
            await asyncio.sleep(0.05)
        running.cancel()  # as the engine's wait_for does at its deadline
        with contextlib.suppress(asyncio.CancelledError):
            await running
        for _ in range(3):
            await asyncio.sleep(0)
        return asyncio.all_tasks() - {asyncio.current_task()}

    assert asyncio.run(cancelled()) == set()
    deadline = time.monotonic() + 10
    while _remote_processes(command) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _remote_processes(command) == ""


def test_a_server_that_never_answers_times_out_while_logging_in():
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        message, tasks = asyncio.run(
            _probe_then_tasks(
                f"127.0.0.1:{port}", timeout="500ms", user="u", password="p", command="true"
            )
        )

    assert message == "timed out after 500ms (logging in)"
    assert tasks == set()


def test_a_closed_port_fails_with_connection_refused():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        with pytest.raises(ProbeFailure, match=r"^connection refused$"):
            probe(f"127.0.0.1:{port}", user="u", password="p", command="true")


@contextlib.contextmanager
def policy(**entries: tuple[str, ...]) -> Iterator[None]:
    netpolicy.install(netpolicy.network_policy(**entries))
    try:
        yield
    finally:
        netpolicy.install(None)


def test_a_denied_address_is_never_connected_to(server):
    connections = server.log_text().count("Connection from ")
    with policy(deny=("127.0.0.1",)), pytest.raises(ProbeFailure) as failure:
        probe(target(server), command="true", **login(server))

    assert str(failure.value) == "address 127.0.0.1 is denied by NANOMON_PROBE_DENY"
    assert server.log_text().count("Connection from ") == connections


# --- Properties, targets, secrets ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("host.example.net", ("host.example.net", 22)),
        ("host.example.net:2222", ("host.example.net", 2222)),
        ("192.0.2.7", ("192.0.2.7", 22)),
        ("[::1]", ("::1", 22)),
        ("[::1]:2222", ("::1", 2222)),
    ],
)
def test_targets_are_a_host_with_an_optional_port(text, expected):
    assert split_target(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty target"),
        ("::1", "needs brackets"),
        ("host:0", "port"),
        ("host:ssh", "port"),
        ("a b", "spaces"),
    ],
)
def test_bad_targets_are_refused(text, reason):
    with pytest.raises(ValueError, match=reason):
        PROBE.check_target(text)


def test_the_registry_does_not_import_asyncssh_until_a_check_needs_it():
    code = (
        "import sys, monitors.probes; assert 'asyncssh' not in sys.modules; "
        "monitors.probes.REGISTRY['ssh'].parse_properties({'user': 'u', 'hostKey': '%s'}); "
        "assert 'asyncssh' in sys.modules"
    )
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEsZMDGrzgLwF4/lIqbozo9GvyBu0bUzrLYezXRTCGG8"
    subprocess.run([sys.executable, "-c", code % key], check=True)


def test_user_is_required_and_the_credentials_are_secrets():
    with pytest.raises(PropertyError, match=r"^property 'user': is required$"):
        PROBE.parse_properties({"password": "p"})
    for name in ("user", "password", "privateKey", "passphrase"):
        assert PROBE.property(name).secret
    masked = masked_properties("ssh", {"user": "root", "password": "pw", "command": "uptime"})
    assert masked == {"user": MASK, "password": MASK, "command": "uptime"}


def test_a_private_key_that_cannot_be_read_is_refused_without_quoting_it():
    text = "-----BEGIN OPENSSH PRIVATE KEY-----\nc2VjcmV0\n-----END OPENSSH PRIVATE KEY-----\n"
    with pytest.raises(PropertyError) as refused:
        PROBE.parse_properties({"user": "u", "privateKey": text})

    assert str(refused.value) == (
        "property 'privateKey': must be a private key in PEM or OpenSSH format"
    )


@pytest.mark.parametrize(
    "text", ["SHA256:short", "MD5:aa:bb", "ssh-ed25519 AAAAnotakey", "SHA256:" + "!" * 43]
)
def test_a_host_key_that_is_neither_a_key_nor_a_fingerprint_is_refused(text):
    with pytest.raises(PropertyError, match=r"^property 'hostKey': "):
        PROBE.parse_properties({"user": "u", "hostKey": text})


def test_a_run_without_credentials_or_its_modes_property_fails_saying_so():
    with pytest.raises(ProbeFailure, match=r"^no credentials: set password or privateKey$"):
        probe("127.0.0.1:1", user="u", command="true")
    with pytest.raises(ProbeFailure, match=r"^property 'command' is required with mode command$"):
        probe("127.0.0.1:1", user="u", password="p")
