"""The ssh probe's process and log modes against a real OpenSSH server on loopback
(tests.support.ssh_server): pmon's process check, and log files read incrementally across
runs through the memory the engine keeps."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitors.probes import ssh_modes
from monitors.probes.base import ProbeFailure, ProbeResult, PropertyError
from monitors.probes.ssh import PROBE
from tests.support import ssh_server
from tests.support.ssh_server import SshServer


@pytest.fixture(scope="module")
def server() -> Iterator[SshServer]:
    if reason := ssh_server.skip_reason():
        pytest.skip(reason)
    with SshServer() as running:
        yield running


@pytest.fixture
def logs(server) -> Path:
    """An empty directory of log files the test user can read."""
    directory = server.log_dir / uuid.uuid4().hex
    directory.mkdir(mode=0o755)
    return directory


def probe(server: SshServer, memory: dict | None = None, **properties: str) -> ProbeResult:
    parsed = PROBE.parse_properties(
        {"user": server.user, "password": server.password, **properties}
    )
    return asyncio.run(PROBE.probe(f"127.0.0.1:{server.port}", parsed, dict(memory or {})))


def write(path: Path, text: str, mode: str = "a") -> None:
    with open(path, mode) as file:
        file.write(text)
    path.chmod(0o644)


def scan(server: SshServer, directory: Path, memory: dict | None = None, **extra: str):
    return probe(server, memory, mode="log", logDir=str(directory), logPattern="ERROR", **extra)


# --- Process mode -------------------------------------------------------------------------------


def test_process_mode_counts_the_lines_of_ps_holding_the_text(server):
    marker = f"nanomon-marker-{uuid.uuid4().hex}"
    sleeper = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(600)", marker],
        stdin=subprocess.DEVNULL,
    )
    try:
        running = probe(server, mode="process", process=marker)
    finally:
        sleeper.kill()
        sleeper.wait()
    gone = probe(server, mode="process", process=marker)

    assert running.outputs["processCount"] == 1
    assert gone.outputs["processCount"] == 0
    assert running.outputs["respTime"] > 0
    assert "exitCode" not in running.outputs


def test_process_mode_runs_the_scan_command_given(server):
    result = probe(server, mode="process", scanCmd="printf 'a x\\nb\\nc x\\n'", process="x")

    assert result.outputs["processCount"] == 2


def test_a_scan_command_that_fails_fails_the_run_quoting_its_stderr(server):
    with pytest.raises(ProbeFailure) as failure:
        probe(server, mode="process", scanCmd="echo no such thing >&2; exit 2", process="x")

    assert str(failure.value) == "scanCmd exited with 2: no such thing"


def test_messages_from_the_server_never_quote_the_user(server):
    with pytest.raises(ProbeFailure) as failure:
        probe(server, mode="process", scanCmd="id -un >&2; exit 1", process="x")

    assert server.user not in str(failure.value)
    assert str(failure.value) == "scanCmd exited with 1: •••"


# --- Log mode -----------------------------------------------------------------------------------


def test_log_mode_counts_matches_and_later_runs_see_only_new_lines(server, logs):
    write(logs / "app.log", "start\nERROR one\nfine\nERROR two\n")

    first = scan(server, logs)
    write(logs / "app.log", "ERROR three\nquiet\n")
    second = scan(server, logs, first.memory)
    third = scan(server, logs, second.memory)

    assert first.outputs["matchCount"] == 2
    assert first.outputs["lastMatch"] == "ERROR two"
    assert first.outputs["fileCount"] == 1
    assert second.outputs["matchCount"] == 1
    assert second.outputs["lastMatch"] == "ERROR three"
    assert second.outputs["bytesRead"] == len("ERROR three\nquiet\n")
    assert third.outputs["matchCount"] == 0
    assert third.outputs["lastMatch"] == ""
    assert third.outputs["bytesRead"] == 0
    size = (logs / "app.log").stat().st_size
    inode = (logs / "app.log").stat().st_ino
    assert third.memory["log"] == {"dir": str(logs), "files": {"app.log": [inode, size]}}
    assert third.memory["hostKey"] == server.host_key


def test_a_line_still_being_written_is_counted_once_it_is_complete(server, logs):
    write(logs / "app.log", "ERROR complete\nERROR half")

    first = scan(server, logs)
    write(logs / "app.log", " done\n")
    second = scan(server, logs, first.memory)

    assert first.outputs["matchCount"] == 1
    assert second.outputs["matchCount"] == 1
    assert second.outputs["lastMatch"] == "ERROR half done"


def test_a_rotated_or_truncated_file_is_read_from_its_start(server, logs):
    write(logs / "app.log", "ERROR old\n" * 3)
    first = scan(server, logs)
    (logs / "app.log").rename(logs / "app.log.1")  # rotated: a new file, a new inode
    write(logs / "app.log", "ERROR new\n")
    rotated = scan(server, logs, first.memory)
    write(logs / "app.log", "x\n", mode="w")  # truncated, same inode
    truncated = scan(server, logs, rotated.memory)

    assert first.outputs["matchCount"] == 3
    assert rotated.outputs["matchCount"] == 1
    assert rotated.outputs["lastMatch"] == "ERROR new"
    assert truncated.outputs["matchCount"] == 0
    assert truncated.outputs["bytesRead"] == 2


def test_only_the_files_matching_the_globs_are_read_and_the_newest_match_is_last(server, logs):
    write(logs / "a.log", "ERROR in a\n")
    write(logs / "b.txt", "ERROR in b\n")
    write(logs / "c.log", "ERROR in c\n")
    write(logs / "skip.gz", "ERROR compressed\n")
    os.utime(logs / "a.log", (2_000_000_000, 2_000_000_000))  # a.log changed last

    result = scan(server, logs, logFiles="*.log *.txt")

    assert result.outputs["fileCount"] == 3
    assert result.outputs["matchCount"] == 3
    assert result.outputs["lastMatch"] == "ERROR in a"


def test_only_the_most_recently_changed_files_are_read(server, logs, monkeypatch):
    monkeypatch.setattr(ssh_modes, "MAX_LOG_FILES", 1)
    write(logs / "old.log", "ERROR old\n")
    write(logs / "new.log", "ERROR new\n")
    os.utime(logs / "old.log", (1_000_000_000, 1_000_000_000))

    result = scan(server, logs)

    assert result.outputs["fileCount"] == 2
    assert result.outputs["matchCount"] == 1
    assert result.outputs["lastMatch"] == "ERROR new"
    assert list(result.memory["log"]["files"]) == ["new.log"]


def test_the_pattern_is_re2_and_matches_within_a_line(server, logs):
    write(logs / "app.log", "level=warn code=503\nlevel=warn code=200\ncode=503 level=info\n")

    result = probe(server, mode="log", logDir=str(logs), logPattern=r"^level=warn code=5\d\d$")

    assert result.outputs["matchCount"] == 1
    assert result.outputs["lastMatch"] == "level=warn code=503"


def test_a_large_file_is_read_only_up_to_the_limit_newest_lines_first(server, logs, monkeypatch):
    monkeypatch.setattr(ssh_modes, "LOG_READ_LIMIT", 64)
    lines = [f"ERROR line {number:03}\n" for number in range(20)]  # 16 bytes each
    write(logs / "app.log", "".join(lines))

    first = scan(server, logs)
    write(logs / "app.log", "ERROR appended\n")
    second = scan(server, logs, first.memory)

    # The last 64 bytes are the 4 newest lines; the byte before them (a line break) is read
    # too, to see that the first of them is whole.
    assert first.outputs["matchCount"] == 4
    assert first.outputs["lastMatch"] == "ERROR line 019"
    assert first.outputs["bytesRead"] == 65
    assert second.outputs["matchCount"] == 1
    assert second.outputs["lastMatch"] == "ERROR appended"


def test_an_empty_directory_counts_nothing_and_a_missing_one_fails(server, logs):
    empty = scan(server, logs)
    with pytest.raises(ProbeFailure) as failure:
        scan(server, logs / "missing")

    assert empty.outputs["fileCount"] == 0
    assert empty.outputs["matchCount"] == 0
    assert str(failure.value) == f"logDir: cannot enter {logs / 'missing'}"


def test_another_log_dir_starts_again_from_the_start(server, logs):
    write(logs / "app.log", "ERROR a\n")
    first = scan(server, logs)
    other = logs / "other"
    other.mkdir(mode=0o755)
    write(other / "app.log", "ERROR b\nERROR c\n")

    result = scan(server, other, first.memory)

    assert result.outputs["matchCount"] == 2


def test_file_names_with_spaces_and_quotes_are_read(server, logs):
    write(logs / "it's a file.log", "ERROR quoted\n")

    result = scan(server, logs)

    assert result.outputs["matchCount"] == 1
    assert list(result.memory["log"]["files"]) == ["it's a file.log"]


@pytest.mark.parametrize("globs", ["*.log; rm -rf /", "$(id).log", "`id`", "a|b", "a\nb", " "])
def test_globs_that_could_run_commands_are_refused(globs):
    with pytest.raises(PropertyError, match=r"^property 'logFiles': must be file name globs"):
        PROBE.parse_properties({"user": "u", "logFiles": globs})


def test_a_pattern_go_does_not_accept_is_refused():
    with pytest.raises(PropertyError, match=r"lookahead is not supported"):
        PROBE.parse_properties({"user": "u", "logPattern": "a(?=b)"})


def test_log_mode_needs_its_directory_and_pattern():
    with pytest.raises(ProbeFailure, match=r"^property 'logDir' is required with mode log$"):
        asyncio.run(
            PROBE.probe(
                "127.0.0.1:1",
                PROBE.parse_properties({"user": "u", "password": "p", "mode": "log"}),
                {},
            )
        )
