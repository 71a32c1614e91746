"""Keeps the embedded shape's processes alive: a child that dies is started again.

``Supervisor`` runs named commands (web, worker, beat). When one exits while NanoMon is not
stopping, it prints a line naming the child and its exit code, waits (1 s, doubling up to
``MAX_BACKOFF_SECONDS``; back to 1 s once a child has stayed up ``STABLE_SECONDS``) and starts
it again. Only SIGINT (Ctrl-C) or SIGTERM stops everything.

What happened is written to ``supervisor.json`` in the data folder (atomically: a temporary
file, then a rename) so the web process can show it: ``/api/status`` ("supervisor") and a
banner on the dashboard (``supervisor_status``).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

STATE_FILE = "supervisor.json"
MIN_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 60.0
STABLE_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0
POLL_SECONDS = 0.2
# The dashboard's banner shows deaths this recent.
RECENT_DEATH = timedelta(hours=24)

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child, between fork and exec
    """Linux: the child gets SIGTERM if the supervisor itself is killed (even with -9), so no
    orphaned worker keeps running beside the next ``bin/nanomon run``."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


@dataclass
class Child:
    name: str
    command: list[str]
    process: subprocess.Popen | None = None
    started_at: datetime | None = None
    started_monotonic: float = 0.0
    restarts: int = 0
    failures_in_row: int = 0
    last_exit_code: int | None = None
    last_death_at: datetime | None = None
    restart_at: float | None = None  # monotonic time of the next start, while waiting
    deaths: list[dict] = field(default_factory=list)

    def as_json(self) -> dict:
        running = self.process is not None and self.process.poll() is None
        return {
            "pid": self.process.pid if running else None,
            "running": running,
            "startedAt": _iso(self.started_at) if running else None,
            "restarts": self.restarts,
            "lastExitCode": self.last_exit_code,
            "lastDeathAt": _iso(self.last_death_at),
        }


class Supervisor:
    def __init__(self, commands: dict[str, list[str]], cwd: Path, state_dir: Path) -> None:
        self.children = {name: Child(name, command) for name, command in commands.items()}
        self.cwd = cwd
        self.state_path = state_dir / STATE_FILE
        self.started_at = _now()
        self.stopping = False

    # --- state file ------------------------------------------------------------------------

    def write_state(self) -> None:
        state = {
            "pid": os.getpid(),
            "startedAt": _iso(self.started_at),
            "children": {name: child.as_json() for name, child in self.children.items()},
        }
        temporary = self.state_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(state, indent=1))
        os.replace(temporary, self.state_path)

    # --- children --------------------------------------------------------------------------

    def start(self, child: Child) -> None:
        child.process = subprocess.Popen(  # noqa: S603 - our own commands
            child.command,
            cwd=self.cwd,
            start_new_session=True,  # Ctrl-C reaches the supervisor, which stops them in order
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        child.started_at = _now()
        child.started_monotonic = time.monotonic()
        child.restart_at = None

    def on_exit(self, child: Child) -> None:
        code = child.process.returncode
        lived = time.monotonic() - child.started_monotonic
        child.failures_in_row = 1 if lived >= STABLE_SECONDS else child.failures_in_row + 1
        backoff = min(MAX_BACKOFF_SECONDS, MIN_BACKOFF_SECONDS * 2 ** (child.failures_in_row - 1))
        child.last_exit_code = code
        child.last_death_at = _now()
        child.restart_at = time.monotonic() + backoff
        child.process = None
        print(
            f"nanomon: {child.name} exited with code {code} after {lived:.0f}s; "
            f"restarting it in {backoff:.0f}s (restart {child.restarts + 1})",
            flush=True,
        )

    def run(self) -> int:
        """Start every child and keep them running until SIGINT or SIGTERM; returns 0."""

        def request_stop(signum: int, frame: object) -> None:
            self.stopping = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        for child in self.children.values():
            self.start(child)
        self.write_state()
        while not self.stopping:
            changed = False
            for child in self.children.values():
                if child.process is not None and child.process.poll() is not None:
                    self.on_exit(child)
                    changed = True
                elif child.process is None and time.monotonic() >= (child.restart_at or 0):
                    if self.stopping:
                        break
                    self.start(child)
                    child.restarts += 1
                    changed = True
            if changed:
                self.write_state()
            time.sleep(POLL_SECONDS)
        self.stop_all()
        return 0

    def stop_all(self) -> None:
        running = [c.process for c in self.children.values() if c.process is not None]
        for process in running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for child in self.children.values():
            child.process = None
        self.write_state()
        print("nanomon: stopped", flush=True)


def supervisor_status(data_dir: Path, *, now: datetime | None = None) -> dict | None:
    """What the embedded supervisor last wrote, if one is running for this data folder.

    ``None`` outside the embedded shape (no file) or when the supervisor that wrote it is
    gone. ``recentDeaths`` names the children that died within ``RECENT_DEATH``."""
    try:
        state = json.loads((data_dir / STATE_FILE).read_text())
        pid = int(state["pid"])
        os.kill(pid, 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    now = now or _now()
    recent = []
    for name, child in sorted(state.get("children", {}).items()):
        died = child.get("lastDeathAt")
        if died and now - datetime.fromisoformat(died.replace("Z", "+00:00")) <= RECENT_DEATH:
            recent.append({"name": name, **child})
    return {**state, "recentDeaths": recent}
