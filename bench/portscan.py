"""The portscan probe's cost: CPU seconds of this process per scan of N ports on loopback.

A child process listens on ``--open`` ports spread over ``--ports`` consecutive ports from
``--first-port`` (accepting and closing every connection, so its backlog never fills), the
rest refuse. This process runs ``--scans`` scans of the whole block with the portscan probe,
one after another on one event loop (as a worker does), and measures its own CPU time
(user + system, ``getrusage``) and the wall time per scan. The first scan (the baseline) is
run before the measurement and must find the child's ports open (another process's
listeners in the block are open too, and counted); every measured scan must find the same.

    .venv/bin/python -m bench.portscan                      # 1000 ports, 10 open, 20 scans
    .venv/bin/python -m bench.portscan --ports 4096 --concurrency 256
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bench.common import print_table, run_metadata, stop_process, write_json
from monitors.probes.portscan import PROBE

_LISTENER = """
import selectors, socket, sys
selector = selectors.DefaultSelector()
for port in map(int, sys.argv[1:]):
    server = socket.create_server(("127.0.0.1", port), backlog=1024)
    server.setblocking(False)
    selector.register(server, selectors.EVENT_READ)
print("ready", flush=True)
while True:
    for key, _ in selector.select():
        try:
            connection, _ = key.fileobj.accept()
        except BlockingIOError:
            continue
        connection.close()
"""


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(properties: dict[str, str], scans: int, listening: list[int]) -> dict:
    parsed = PROBE.parse_properties(properties)
    baseline = await PROBE.probe("127.0.0.1", parsed, {})
    memory = baseline.memory or {}
    expected = str(baseline.outputs["openPorts"])
    if not set(listening) <= {int(port) for port in expected.split(",") if port}:
        raise SystemExit(f"the baseline scan found {expected!r}, not every port of {listening}")
    cpu_before, wall_before = cpu_seconds(), time.perf_counter()
    for _ in range(scans):
        result = await PROBE.probe("127.0.0.1", parsed, memory)
        if result.outputs["openPorts"] != expected:
            raise SystemExit(f"a scan found {result.outputs['openPorts']!r}, not {expected!r}")
    cpu = cpu_seconds() - cpu_before
    wall = time.perf_counter() - wall_before
    return {
        "open_found": int(baseline.outputs["openCount"]),  # ours and any other listener's
        "cpu_seconds_per_scan": cpu / scans,
        "wall_ms_per_scan": 1000 * wall / scans,
    }


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.portscan", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--ports", type=int, default=1000, help="ports per scan (1000)")
    parser.add_argument("--open", type=int, default=10, help="of which listening (10)")
    parser.add_argument("--scans", type=int, default=20, help="measured scans (20)")
    parser.add_argument("--concurrency", type=int, default=100, help="connects in flight (100)")
    parser.add_argument(
        "--first-port",
        type=int,
        default=12000,
        help="first port (12000: below the ephemeral ports, which tests and clients take)",
    )
    parser.add_argument("--out-dir", default=None, help="where the JSON goes (bench/out)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    meta = run_metadata()
    first, count = arguments.first_port, arguments.ports
    step = max(1, count // max(1, arguments.open))
    listening = list(range(first, first + count, step))[: arguments.open]
    listener = subprocess.Popen(
        [sys.executable, "-c", _LISTENER, *map(str, listening)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        if listener.stdout is None or listener.stdout.readline().strip() != "ready":
            raise SystemExit("the listener did not start (a port in use? try --first-port)")
        properties = {
            "ports": f"{first}-{first + count - 1}",
            "concurrency": str(arguments.concurrency),
            "timeout": "60s",
        }
        figures = asyncio.run(measure(properties, arguments.scans, listening))
    finally:
        stop_process(listener, timeout=5)
    per_scan = figures["cpu_seconds_per_scan"]
    figures["ports_per_cpu_second"] = count / per_scan if per_scan else None
    print_table(
        f"portscan on 127.0.0.1: {count} ports ({figures['open_found']} open), "
        f"concurrency {arguments.concurrency}, {arguments.scans} scans",
        ["CPU s per scan", "wall ms per scan", "ports per CPU-second"],
        [[per_scan, figures["wall_ms_per_scan"], figures["ports_per_cpu_second"]]],
    )
    write_json(
        "portscan",
        {
            "benchmark": "portscan",
            **meta,
            "ports": count,
            "open": len(listening),
            "scans": arguments.scans,
            "concurrency": arguments.concurrency,
            **figures,
        },
        out_dir=None if arguments.out_dir is None else Path(arguments.out_dir),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
