"""Helpers shared by the benchmark scripts: percentiles, /proc CPU and RSS sampling, the load
average gate, table printing and JSON output.

Nothing here imports Django: the engine benchmark never configures it, and the scale and
read-path scripts set up their own database before they do.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

BENCH_DIR = Path(__file__).resolve().parent
REPOSITORY = BENCH_DIR.parent
OUT_DIR = BENCH_DIR / "out"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MB = 1024 * 1024

# --- Numbers -------------------------------------------------------------------------------------


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def stop_process(process: subprocess.Popen, timeout: float) -> None:
    """Terminate ``process`` if it still runs; kill it after ``timeout`` seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class ChildServer:
    """A server a benchmark starts for itself on a free loopback port, with a temporary
    folder of its own; a context manager whose exit always stops it (terminate, then kill
    after 10 s) and removes the folder. Subclasses start ``self.process`` in ``__enter__``."""

    def __init__(self, prefix: str) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self._directory = tempfile.TemporaryDirectory(prefix=prefix)
        self.folder = Path(self._directory.name)

    @property
    def pid(self) -> int:
        return self.process.pid if self.process else 0

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.process is not None:
            stop_process(self.process, timeout=10)
            if self.process.stderr:
                self.process.stderr.close()
        self._directory.cleanup()


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0–100) with linear interpolation; None when there is no value."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (rank - low))


def summarize(values: Sequence[float], digits: int = 3) -> dict[str, float | int | None]:
    """count, mean, p50, p95, p99 and max of ``values`` (None when empty), rounded."""

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, digits)

    return {
        "count": len(values),
        "mean": rounded(sum(values) / len(values)) if values else None,
        "p50": rounded(percentile(values, 50)),
        "p95": rounded(percentile(values, 95)),
        "p99": rounded(percentile(values, 99)),
        "max": rounded(max(values)) if values else None,
    }


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator rounded to 2 decimals; None when either is missing or zero."""
    if not numerator or not denominator:
        return None
    return round(numerator / denominator, 2)


# --- Processes (Linux /proc) ---------------------------------------------------------------------


@dataclass(frozen=True)
class ProcStat:
    """One process at one moment: CPU used so far, resident and peak resident memory."""

    pid: int
    start_ticks: int  # tells a reused pid from the original
    cpu_seconds: float  # user + system, this process only (threads included)
    rss_bytes: int
    peak_rss_bytes: int  # VmHWM: the kernel's own high-water mark


def read_proc(pid: int) -> ProcStat | None:
    """The process's CPU and memory, or None if it is gone (or is a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state); utime is field 14, stime 15, starttime 22.
    memory = dict(re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", status, re.MULTILINE))
    if "VmRSS" not in memory:  # kernel threads and zombies have no memory lines
        return None
    return ProcStat(
        pid=pid,
        start_ticks=int(fields[19]),
        cpu_seconds=(int(fields[11]) + int(fields[12])) / CLOCK_TICKS,
        rss_bytes=int(memory["VmRSS"]) * 1024,
        peak_rss_bytes=int(memory.get("VmHWM", memory["VmRSS"])) * 1024,
    )


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) ``pid`` has used so far; 0 if it is gone."""
    stat = read_proc(pid)
    return stat.cpu_seconds if stat else 0.0


def _all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return int(stat[stat.rindex(")") + 2 :].split()[1])


_parents_cache: tuple[float, dict[int, int | None]] = (0.0, {})


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (a prefork pool, gunicorn's workers).

    The table of parents is read at most every half second: a sampler asks for several
    trees at once, and /proc holds hundreds of processes.
    """
    global _parents_cache
    read_at, parents = _parents_cache
    if time.monotonic() - read_at > 0.5:
        parents = {other: _parent_of(other) for other in _all_pids()}
        _parents_cache = (time.monotonic(), parents)
    tree, frontier = [pid], [pid]
    while frontier:
        current = frontier.pop()
        children = [child for child, parent in parents.items() if parent == current]
        tree.extend(children)
        frontier.extend(children)
    return [member for member in tree if Path(f"/proc/{member}").exists()]


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return ""


def postgres_backends(database: str) -> list[int]:
    """Server processes of PostgreSQL working for ``database`` (its title names the database)."""
    marker = f" {database} "
    return [
        pid
        for pid in _all_pids()
        if (title := cmdline(pid)).startswith("postgres: ") and marker in f"{title} "
    ]


def postgres_shared_processes() -> list[int]:
    """PostgreSQL's own processes (postmaster, WAL writer, checkpointer, …), shared by every
    database on the server: other users of the machine count in them too."""
    client = re.compile(r"\(\d+\)|\[local\]")  # a backend's title names its client
    pids = []
    for pid in _all_pids():
        title = cmdline(pid)
        program = title.split(" ")[0]
        if not (title.startswith("postgres: ") or program.endswith("/postgres")):
            continue
        if client.search(title) or "autovacuum worker" in title:
            continue  # a backend, or work for one database
        pids.append(pid)
    return pids


def processes_matching(pattern: str) -> list[int]:
    """Processes whose command line matches the regular expression ``pattern``."""
    compiled = re.compile(pattern)
    return [pid for pid in _all_pids() if compiled.search(cmdline(pid))]


@dataclass
class _RoleTotals:
    first: dict[tuple[int, int], float] = field(default_factory=dict)  # CPU when first seen
    last: dict[tuple[int, int], float] = field(default_factory=dict)  # CPU when last seen
    peak_process_rss: int = 0
    peak_total_rss: int = 0
    processes: set[int] = field(default_factory=set)


class ProcessSampler:
    """Samples the CPU and RSS of named groups of processes in a background thread.

    ``roles`` maps a name (``beat``, ``worker-1``, ``postgres``) to a function returning the
    group's pids *now*: groups may change while sampling (database backends come and go).
    CPU is counted from the first sample (``start``) to the last (``stop``); a process born
    in between counts from zero, one that dies loses at most one sampling period. Peak RSS
    is the largest VmHWM of one process and the largest sampled sum over the group.
    """

    def __init__(self, roles: dict[str, Callable[[], Iterable[int]]], every: float = 1.0):
        self.roles = roles
        self.every = every
        self._totals = {role: _RoleTotals() for role in roles}
        self._baseline_pids: dict[str, set[tuple[int, int]]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)
        self._started = 0.0
        self._stopped = 0.0

    def _sample(self, *, baseline: bool = False) -> None:
        for role, pids_of in self.roles.items():
            totals = self._totals[role]
            total_rss = 0
            for pid in set(pids_of()):
                stat = read_proc(pid)
                if stat is None:
                    continue
                key = (stat.pid, stat.start_ticks)
                if baseline:
                    self._baseline_pids.setdefault(role, set()).add(key)
                    totals.first[key] = stat.cpu_seconds
                elif key not in totals.first:
                    totals.first[key] = 0.0  # born during the window
                totals.last[key] = stat.cpu_seconds
                totals.processes.add(pid)
                totals.peak_process_rss = max(totals.peak_process_rss, stat.peak_rss_bytes)
                total_rss += stat.rss_bytes
            totals.peak_total_rss = max(totals.peak_total_rss, total_rss)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._sample()

    def start(self) -> ProcessSampler:
        self._sample(baseline=True)
        self._started = time.monotonic()
        self._thread.start()
        return self

    def stop(self) -> dict[str, dict[str, float | int]]:
        """Stop sampling; per role: cpu_seconds, cpu_percent (of one core), peak RSS (MB)."""
        self._stop.set()
        self._thread.join()
        self._sample()
        self._stopped = time.monotonic()
        elapsed = max(self._stopped - self._started, 1e-9)
        figures: dict[str, dict[str, float | int]] = {}
        for role, totals in self._totals.items():
            used = sum(
                max(0.0, totals.last[key] - totals.first.get(key, 0.0)) for key in totals.last
            )
            figures[role] = {
                "cpu_seconds": round(used, 2),
                "cpu_percent": round(100.0 * used / elapsed, 1),
                "peak_rss_mb": round(totals.peak_process_rss / MB, 1),
                "peak_rss_total_mb": round(totals.peak_total_rss / MB, 1),
                "processes": len(totals.processes),
            }
        return figures


# --- The machine ---------------------------------------------------------------------------------


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all cores, not idle or iowait)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages."""
    return [round(value, 2) for value in os.getloadavg()]


def wait_for_quiet_machine(max_load: float, max_wait_seconds: float, step: float = 30.0) -> dict:
    """Sleep in bounded steps until the 1-minute load average is at most ``max_load``.

    Gives up (and carries on) after ``max_wait_seconds``; returns what happened, for the JSON.
    """
    started = time.monotonic()
    before = load_average()
    while os.getloadavg()[0] > max_load and time.monotonic() - started < max_wait_seconds:
        print(
            f"load average {os.getloadavg()[0]:.2f} > {max_load}: waiting "
            f"(up to {max_wait_seconds - (time.monotonic() - started):.0f}s more)",
            flush=True,
        )
        time.sleep(min(step, max(0.0, max_wait_seconds - (time.monotonic() - started))))
    return {
        "max_load": max_load,
        "waited_seconds": round(time.monotonic() - started, 1),
        "load_before_wait": before,
        "load_at_start": load_average(),
    }


def run_metadata() -> dict:
    """Where and when a run happened, and the exact command that produced it."""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([".venv/bin/python -m", _module_name(), *sys.argv[1:]]),
        "host": socket.gethostname(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "load_average": load_average(),
    }


def _module_name() -> str:
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    return spec.name if spec is not None else Path(sys.argv[0]).stem


# --- Output --------------------------------------------------------------------------------------


def format_cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"
    return str(value)


def print_table(title: str, headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Print (and return) a plain-text table with right-aligned numbers."""
    text_rows = [[format_cell(cell) for cell in row] for row in rows]
    widths = [
        max(len(header), *(len(row[index]) for row in text_rows)) if text_rows else len(header)
        for index, header in enumerate(headers)
    ]
    lines = [title]
    lines.append(
        "  ".join(header.rjust(width) for header, width in zip(headers, widths, strict=True))
    )
    lines.append("  ".join("-" * width for width in widths))
    lines.extend(
        "  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True))
        for row in text_rows
    )
    table = "\n".join(lines)
    print(table, flush=True)
    return table


def write_json(name: str, payload: dict, out_dir: Path | None = None) -> Path:
    """Write ``payload`` to ``<out_dir>/<name>-<UTC timestamp>.json``; return the path."""
    directory = out_dir or OUT_DIR
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = directory / f"{name}-{stamp}.json"
    suffix = 1
    while path.exists():
        suffix += 1
        path = directory / f"{name}-{stamp}-{suffix}.json"
    path.write_text(json.dumps(payload, indent=2, sort_keys=False, allow_nan=False) + "\n")
    shown = path.relative_to(REPOSITORY) if path.is_relative_to(REPOSITORY) else path
    print(f"figures written to {shown}")
    return path
