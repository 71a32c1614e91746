"""The ssh probe's cost: CPU seconds per check, ours and the server's, against a local sshd.

Starts Debian's OpenSSH server on loopback as the ssh tests do (``tests.support.ssh_server``:
root and ``/usr/sbin/sshd`` needed), then runs ``--checks`` checks of each case one after
another on one event loop (as a worker does): ``command`` (``true``, password login),
``command-key`` (``true``, an encrypted ed25519 key: decrypted once, then cached, so the
figure is the login's), ``process`` (``ps aux``) and ``log`` (10 lines appended to a log
before each check, read incrementally through the memory). For each it measures this
process's CPU time (user + system, ``getrusage``), sshd's (the listener's own and its reaped
children's: the per-connection sshd processes and the commands they ran, from
``/proc/<pid>/stat``) and the wall time, per check. One warm-up check per case is not counted.

    .venv/bin/python -m bench.ssh_checks                  # 50 checks per case
    .venv/bin/python -m bench.ssh_checks --checks 200
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import time
from collections.abc import Sequence
from pathlib import Path

from bench.common import CLOCK_TICKS, print_table, run_metadata, write_json
from monitors.probes.ssh import PROBE
from tests.support import ssh_server
from tests.support.ssh_server import KEY_PASSPHRASE, SshServer


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def tree_cpu_seconds(pid: int) -> float:
    """``pid``'s CPU seconds with its reaped children's (utime, stime, cutime, cstime)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return sum(int(value) for value in fields[11:15]) / CLOCK_TICKS


def cases(server: SshServer) -> dict[str, dict[str, str]]:
    password = {"user": server.user, "password": server.password}
    return {
        "command": {**password, "command": "true"},
        "command-key": {
            "user": server.user,
            "privateKey": server.private_key,
            "passphrase": KEY_PASSPHRASE,
            "command": "true",
        },
        "process": {**password, "mode": "process", "process": "sshd"},
        "log": {**password, "mode": "log", "logDir": str(server.log_dir), "logPattern": "ERROR"},
    }


async def measure(server: SshServer, name: str, properties: dict[str, str], checks: int) -> dict:
    parsed = PROBE.parse_properties(properties)
    target = f"127.0.0.1:{server.port}"
    lines = "".join(f"2026-12-06 INFO request {n}\n" for n in range(9)) + "ERROR failed\n"
    memory = (await PROBE.probe(target, parsed, {})).memory or {}  # warm-up: not counted
    ours = theirs = wall = 0.0
    for _ in range(checks):
        if name == "log":
            server.write_log("app.log", lines)
        ours_before, theirs_before = own_cpu_seconds(), tree_cpu_seconds(server.pid)
        started = time.perf_counter()
        result = await PROBE.probe(target, parsed, memory)
        wall += time.perf_counter() - started
        ours += own_cpu_seconds() - ours_before
        theirs += tree_cpu_seconds(server.pid) - theirs_before
        memory = result.memory or memory
        if name == "log" and result.outputs["matchCount"] != 1:
            raise SystemExit(f"a log check counted {result.outputs['matchCount']}, not 1")
    return {
        "cpu_seconds_per_check": ours / checks,
        "sshd_cpu_seconds_per_check": theirs / checks,
        "wall_ms_per_check": 1000 * wall / checks,
        "checks_per_cpu_second": checks / ours if ours else None,
    }


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ssh_checks", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--checks", type=int, default=50, help="measured checks per case (50)")
    parser.add_argument("--out-dir", default=None, help="where the JSON goes (bench/out)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    if reason := ssh_server.skip_reason():
        raise SystemExit(f"cannot run: {reason}")
    meta = run_metadata()
    figures: dict[str, dict] = {}
    with SshServer() as server:
        for name, properties in cases(server).items():
            figures[name] = asyncio.run(measure(server, name, properties, arguments.checks))
    print_table(
        f"ssh checks on 127.0.0.1 (OpenSSH), {arguments.checks} per case, one at a time",
        ["case", "our CPU s/check", "sshd CPU s/check", "wall ms/check", "checks/CPU-s"],
        [
            [
                name,
                row["cpu_seconds_per_check"],
                row["sshd_cpu_seconds_per_check"],
                row["wall_ms_per_check"],
                row["checks_per_cpu_second"],
            ]
            for name, row in figures.items()
        ],
    )
    write_json(
        "ssh_checks",
        {
            "benchmark": "ssh_checks",
            **meta,
            "checks": arguments.checks,
            "cpus": os.cpu_count(),
            "cases": figures,
        },
        out_dir=None if arguments.out_dir is None else Path(arguments.out_dir),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
