"""What an ``ssh`` monitor checks once logged in (``monitors.probes.ssh``): its ``mode``.

* ``command``: runs ``command``. Outputs ``exitCode`` (128 + the signal's number when a signal
  ended it, as shells say; -1 when the server sent neither), ``stdout`` and ``stderr``: the
  first ``OUTPUT_LIMIT`` bytes each, decoded as UTF-8 (invalid bytes replaced, a character cut
  at the limit dropped), final line breaks removed. The rest is read and thrown away, so a
  chatty command still finishes and reports its exit code.
* ``process`` (pmon's process check): runs ``scanCmd`` (``ps aux``) and counts the lines of
  its output (the first ``SCAN_LIMIT`` bytes) holding the text ``process``, case-sensitive:
  ``processCount``. A scan that exits non-zero fails the run, quoting its stderr.
* ``log`` (pmon's log check): lists the regular files of ``logDir`` matching ``logFiles``
  (shell globs separated by spaces, ``*.log``), reads the newest ``MAX_LOG_FILES`` and counts
  the lines ``logPattern`` (RE2, Go's syntax: ``lib.regex``) matches. Outputs ``matchCount``,
  ``lastMatch`` (the last matching line of the most recently changed file, cut at
  ``MAX_LINE`` characters; empty when none), ``fileCount`` (files matched) and ``bytesRead``.

Log mode reads only what changed. The monitor's memory keeps each file's inode and the offset
read up to; the next run reads from there (``tail -c +N | head -c M``), so a line appended
between runs is counted once. A file seen for the first time is read from its start, a file
whose inode changed (rotated) or that shrank (truncated) from its start again; at most
``LOG_READ_LIMIT`` bytes per file and run, the newest (the line cut at the front is dropped).
A last line without its line break is left for the next run unless it alone fills the limit.
The remote side needs a POSIX ``sh``, ``stat`` (GNU/busybox ``-c`` or BSD ``-f``), ``tail``
and ``head -c``.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import re
import shlex
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lib.durations import format_seconds
from lib.regex import MatchTimeout, Regex, compile_regex, run_bounded
from monitors.probes.base import OutputSpec, OutputValue, ProbeFailure, PropertySpec

if TYPE_CHECKING:  # imported when a check runs (monitors.probes.ssh)
    import asyncssh

OUTPUT_LIMIT = 4096
SCAN_LIMIT = 1 << 20
LOG_READ_LIMIT = 1 << 20
MAX_LOG_FILES = 16
MAX_LINE = 1000
MIN_MATCH_SECONDS = 0.05


@dataclass(frozen=True)
class Completed:
    exit_code: int
    stdout: bytes
    stderr: bytes


class Session:
    """One probe's connection, the remote process it is running and how far it got."""

    def __init__(self, properties: Mapping[str, object], deadline: float = 0.0) -> None:
        self.properties = properties
        self.deadline = deadline  # the loop's time when the run must end
        self.phase = "starting"
        self.conn: asyncssh.SSHClientConnection | None = None
        self.presented: asyncssh.SSHKey | None = None
        self.process: asyncssh.SSHClientProcess | None = None

    async def run(self, command: str, limit: int) -> Completed:
        """Run ``command``, keeping the first ``limit`` bytes of stdout and of stderr."""
        assert self.conn is not None
        process = await self.conn.create_process(command, encoding=None)
        self.process = process
        process.stdin.write_eof()
        stdout, stderr = await _drain(process.stdout, limit, process.stderr, OUTPUT_LIMIT)
        await process.wait_closed()
        code = process.returncode
        if code is None:  # the server sent neither an exit status nor a signal
            code = -1
        elif code < 0:  # -signal, as asyncio says it: a shell's 128 + signal
            code = 128 - code
        return Completed(code, stdout, stderr)

    def close(self) -> None:
        """Kill a remote command still running (sshd signals its process group) and close
        the connection. Synchronous: also safe while the probe is being cancelled."""
        process = self.process
        if process is not None and process.returncode is None:
            with contextlib.suppress(Exception):  # the channel may be closing already
                process.send_signal("KILL")
        if self.conn is not None:
            self.conn.close()

    async def wait_closed(self) -> None:
        if self.conn is not None:
            await self.conn.wait_closed()


async def _drain(
    stdout: asyncssh.SSHReader, stdout_limit: int, stderr: asyncssh.SSHReader, stderr_limit: int
) -> tuple[bytes, bytes]:
    """Both streams to their ends at once (a command filling one never waits on the other),
    keeping the first bytes of each."""
    out, err = await asyncio.gather(_read(stdout, stdout_limit), _read(stderr, stderr_limit))
    return out, err


async def _read(stream: asyncssh.SSHReader, limit: int) -> bytes:
    kept = bytearray()
    while chunk := await stream.read(65536):
        if len(kept) < limit:
            kept += chunk[: limit - len(kept)]
    return bytes(kept)


def decode(data: bytes, *, cut: bool) -> str:
    """UTF-8 with invalid bytes replaced; when ``cut``, a character split at the end dropped."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    return decoder.decode(data, final=not cut)


def output_text(data: bytes, limit: int) -> str:
    return decode(data, cut=len(data) >= limit).rstrip("\r\n")


def scrub(text: str, properties: Mapping[str, object]) -> str:
    """``text`` (the server's words) without the monitor's secrets in it."""
    for name in ("password", "passphrase", "user"):
        value = properties.get(name)
        if isinstance(value, str) and len(value) >= 2:
            text = text.replace(value, "•••")
    return text


def _first_line(data: bytes, properties: Mapping[str, object]) -> str:
    line = decode(data, cut=True).strip().split("\n", 1)[0].strip()
    return scrub(line[:200], properties)


# --- Modes -------------------------------------------------------------------------------------


async def run_command(
    session: Session, memory: Mapping[str, object]
) -> tuple[dict[str, OutputValue], dict[str, object]]:
    done = await session.run(str(session.properties["command"]), OUTPUT_LIMIT)
    return {
        "exitCode": float(done.exit_code),
        "stdout": output_text(done.stdout, OUTPUT_LIMIT),
        "stderr": output_text(done.stderr, OUTPUT_LIMIT),
    }, {}


async def run_process_scan(
    session: Session, memory: Mapping[str, object]
) -> tuple[dict[str, OutputValue], dict[str, object]]:
    properties = session.properties
    done = await session.run(str(properties["scanCmd"]), SCAN_LIMIT)
    if done.exit_code != 0:
        reason = _first_line(done.stderr, properties)
        raise ProbeFailure(
            f"scanCmd exited with {done.exit_code}" + (f": {reason}" if reason else "")
        )
    needle = str(properties["process"])
    lines = decode(done.stdout, cut=len(done.stdout) >= SCAN_LIMIT).split("\n")
    return {"processCount": float(sum(1 for line in lines if needle in line))}, {}


def listing_command(directory: str, globs: str) -> str:
    """One ``sh -c`` line printing ``inode size mtime name\\0`` per regular file matched."""
    script = (
        f"cd -- {shlex.quote(directory)} 2>/dev/null || exit 3; "
        f"for f in {globs}; do "
        '[ -f "$f" ] || continue; '
        "s=$(stat -c '%i %s %Y' -- \"$f\" 2>/dev/null "
        "|| stat -f '%i %z %m' -- \"$f\") || continue; "
        'printf \'%s %s\\0\' "$s" "$f"; '
        "done"
    )
    return f"sh -c {shlex.quote(script)}"


def read_command(directory: str, name: str, start: int, count: int) -> str:
    script = (
        f"cd -- {shlex.quote(directory)} && "
        f"tail -c +{start + 1} -- {shlex.quote(name)} | head -c {count}"
    )
    return f"sh -c {shlex.quote(script)}"


@dataclass(frozen=True)
class LogFile:
    name: str
    inode: int
    size: int
    mtime: int


def parse_listing(data: bytes) -> list[LogFile]:
    files = []
    for record in data.split(b"\0"):
        parts = record.split(b" ", 3)
        if len(parts) != 4:
            continue
        try:
            inode, size, mtime = (int(part) for part in parts[:3])
            name = parts[3].decode("utf-8")
        except ValueError:  # a name that is not UTF-8: cannot be named in a command
            continue
        files.append(LogFile(name, inode, size, mtime))
    return files


async def run_log_scan(
    session: Session, memory: Mapping[str, object]
) -> tuple[dict[str, OutputValue], dict[str, object]]:
    properties = session.properties
    directory, pattern = str(properties["logDir"]), properties["logPattern"]
    assert isinstance(pattern, Regex)
    listing = await session.run(listing_command(directory, str(properties["logFiles"])), 1 << 20)
    if listing.exit_code == 3:
        raise ProbeFailure(f"logDir: cannot enter {directory}")
    if listing.exit_code != 0:
        reason = _first_line(listing.stderr, properties)
        raise ProbeFailure(f"listing logDir failed ({listing.exit_code}): {reason}")
    found = parse_listing(listing.stdout)
    newest = sorted(found, key=lambda file: (file.mtime, file.name))[-MAX_LOG_FILES:]
    before = memory.get("log")
    known = (
        before.get("files", {})
        if isinstance(before, dict) and before.get("dir") == directory
        else {}
    )
    remembered: dict[str, list[int]] = {}
    texts: list[str] = []
    total = 0
    for file in newest:
        start = 0
        previous = known.get(file.name)
        if isinstance(previous, list) and previous[0] == file.inode and previous[1] <= file.size:
            start = previous[1]
        partial = file.size - start > LOG_READ_LIMIT
        if partial:  # the newest bytes, one before them to see where the first line starts
            start = file.size - LOG_READ_LIMIT - 1
        count = file.size - start
        data = b""
        if count > 0:
            data = (
                await session.run(read_command(directory, file.name, start, count), count)
            ).stdout
        total += len(data)
        head = 0
        if partial:
            newline = data.find(b"\n")
            head = newline + 1 if newline >= 0 else len(data)
        body = data[head:]
        end = body.rfind(b"\n") + 1
        if end == 0 and len(data) >= LOG_READ_LIMIT:  # one line longer than the limit
            end = len(body)
        texts.append(decode(body[:end], cut=False))
        remembered[file.name] = [file.inode, start + head + end]
    count, last = await _matches(session, pattern, texts)
    outputs: dict[str, OutputValue] = {
        "matchCount": float(count),
        "lastMatch": last,
        "fileCount": float(len(found)),
        "bytesRead": float(total),
    }
    return outputs, {"log": {"dir": directory, "files": remembered}}


def count_matches(pattern: Regex, texts: list[str]) -> tuple[int, str]:
    """Lines matched in ``texts`` (whole lines each) and the last one."""
    count, last = 0, ""
    for text in texts:
        for line in text.split("\n")[:-1] if text.endswith("\n") else text.split("\n"):
            line = line.removesuffix("\r")
            if pattern.search(line):
                count += 1
                last = line
    return count, last[:MAX_LINE]


async def _matches(session: Session, pattern: Regex, texts: list[str]) -> tuple[int, str]:
    if not any(texts):
        return 0, ""
    budget = max(session.deadline - asyncio.get_running_loop().time(), MIN_MATCH_SECONDS)
    try:
        return await run_bounded(
            count_matches, pattern, texts, timeout=budget, key=("logPattern", pattern.source)
        )
    except MatchTimeout as error:
        if error.still_running:
            raise ProbeFailure("logPattern: an earlier search is still running") from None
        timeout = float(session.properties["timeout"])
        raise ProbeFailure(
            f"logPattern did not finish within the timeout ({format_seconds(timeout)})"
        ) from None


@dataclass(frozen=True)
class Mode:
    name: str
    needs: tuple[str, ...]
    run: Callable[
        [Session, Mapping[str, object]],
        Awaitable[tuple[dict[str, OutputValue], dict[str, object]]],
    ]

    def missing(self, properties: Mapping[str, object]) -> str | None:
        for name in self.needs:
            if not properties.get(name):
                return f"property '{name}' is required with mode {self.name}"
        return None


MODES = {
    mode.name: mode
    for mode in (
        Mode("command", ("command",), run_command),
        Mode("process", ("process",), run_process_scan),
        Mode("log", ("logDir", "logPattern"), run_log_scan),
    )
}


# --- Properties and outputs --------------------------------------------------------------------

_GLOBS = re.compile(r"[A-Za-z0-9._*?\[\]!/ +@%,=~-]+")


def parse_globs(text: str) -> str:
    """Shell globs separated by spaces, of safe characters only (they reach ``sh``)."""
    if not _GLOBS.fullmatch(text) or not text.strip():
        raise ValueError(
            "must be file name globs such as *.log, separated by spaces, of letters, digits "
            "and . _ - * ? [ ] ! / + @ % , = ~"
        )
    return text.strip()


def parse_log_pattern(text: str) -> Regex:
    try:
        return compile_regex(text, capture=False)
    except ValueError as error:
        raise ValueError(f"invalid regular expression: {error}") from None


def parse_one_line(text: str) -> str:
    if "\0" in text or "\n" in text or "\r" in text:
        raise ValueError("must be one line")
    return text


PROPERTIES = (
    PropertySpec("command", "Command to run (mode command), e.g. systemctl is-active nginx."),
    PropertySpec(
        "scanCmd",
        "Command listing the processes (mode process).",
        default="ps aux",
        parse=parse_one_line,
    ),
    PropertySpec(
        "process", "Text to find in scanCmd's output lines (mode process), e.g. nginx: master."
    ),
    PropertySpec(
        "logDir", "Directory of the log files (mode log), e.g. /var/log/app.", parse=parse_one_line
    ),
    PropertySpec(
        "logFiles",
        "Globs of the files to read in logDir (mode log), separated by spaces.",
        default="*.log",
        parse=parse_globs,
    ),
    PropertySpec(
        "logPattern",
        "RE2 regular expression (Go syntax) a log line must match to count (mode log).",
        parse=parse_log_pattern,
    ),
)

OUTPUTS = (
    OutputSpec("exitCode", "number", "The command's exit code (mode command)."),
    OutputSpec("stdout", "string", "The command's standard output, first 4 KiB (mode command)."),
    OutputSpec("stderr", "string", "The command's standard error, first 4 KiB (mode command)."),
    OutputSpec("processCount", "number", "Lines of scanCmd's output holding process."),
    OutputSpec("matchCount", "number", "Log lines matching logPattern since the last run."),
    OutputSpec("lastMatch", "string", "The last log line that matched; empty when none did."),
    OutputSpec("fileCount", "number", "Files in logDir matching logFiles."),
    OutputSpec("bytesRead", "number", "Bytes of log read this run.", unit="B"),
)
