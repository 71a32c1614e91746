"""CPU per check: NanoMon's traceroute probe against the system ``traceroute`` binary, on the
same routed path (this host → r1 → r2 → target, in network namespaces built by
``tests/support/netns_routes.py`` and removed on exit; needs root and Debian's ``traceroute``).

For each protocol (ICMP echo: ours ``protocol=icmp`` vs ``traceroute -n -I``; UDP: ours
``protocol=udp`` vs ``traceroute -n``), N traces of:

* our probe one at a time in this process: CPU seconds of this process per trace
  (``resource.getrusage(RUSAGE_SELF)``, user + system);
* our probe, N at once on one event loop (how the loop runs many monitors);
* ``traceroute`` run N times, one after the other, as a monitor that shelled out would: CPU
  seconds of the children per trace (``RUSAGE_CHILDREN``, reaped) plus this process's own
  (the fork and the pipe reads).

Every run must find the whole path (3 hops, the target reached), or the script stops.

    .venv/bin/python -m bench.traceroute                # 200 traces of each
    .venv/bin/python -m bench.traceroute --traces 20
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.common import print_table, run_metadata, wait_for_quiet_machine, write_json


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def measure(run: Callable[[], None], traces: int) -> dict[str, float]:
    """CPU seconds per trace (this process, its reaped children) and wall seconds per trace."""
    self_before, children_before = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    run()
    wall = time.perf_counter() - started
    own = (_cpu(resource.RUSAGE_SELF) - self_before) / traces
    children = (_cpu(resource.RUSAGE_CHILDREN) - children_before) / traces
    return {
        "cpu_ms_per_trace": round((own + children) * 1000, 3),
        "own_cpu_ms_per_trace": round(own * 1000, 3),
        "children_cpu_ms_per_trace": round(children * 1000, 3),
        "wall_ms_per_trace": round(wall * 1000 / traces, 3),
    }


def ours(target: str, protocol: str, traces: int, expected: str, *, at_once: bool) -> None:
    from monitors.probes.traceroute import PROBE

    parsed = PROBE.parse_properties({"protocol": protocol})

    async def one() -> None:
        result = await PROBE.probe(target, parsed, {})
        if result.outputs.get("route") != expected:
            raise SystemExit(f"our trace found {result.outputs!r}, expected {expected}")

    async def many() -> None:
        if at_once:
            await asyncio.gather(*(one() for _ in range(traces)))
        else:
            for _ in range(traces):
                await one()

    asyncio.run(many())


def system_traceroute(target: str, protocol: str, traces: int, expected: str) -> None:
    command = ["traceroute", "-n", *(["-I"] if protocol == "icmp" else []), target]
    for _ in range(traces):
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        hops = [line.split()[1] for line in output.splitlines()[1:]]
        if " ".join(hops) != expected:
            raise SystemExit(f"traceroute found {output!r}, expected {expected}")


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.traceroute", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--traces", type=int, default=200, help="traces of each kind (200)")
    parser.add_argument("--max-load", type=float, default=1.0)
    parser.add_argument("--max-wait", type=float, default=600.0, help="seconds (0: no wait)")
    parser.add_argument("--out-dir", default=None, help="where the JSON goes (bench/out)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    from tests.support import netns, netns_routes

    arguments = parse_arguments(argv)
    if reason := netns.skip_reason():
        raise SystemExit(reason)
    if shutil.which("traceroute") is None:
        raise SystemExit("the traceroute binary is missing: apt-get install -y traceroute")
    quiet = wait_for_quiet_machine(arguments.max_load, arguments.max_wait)
    meta = run_metadata()
    traces = arguments.traces
    rows = []
    with netns_routes.routed_path() as path:
        expected = " ".join(path.first_path())
        for protocol in ("icmp", "udp"):
            kinds = {
                "nanomon, one at a time": lambda p=protocol: ours(
                    path.target, p, traces, expected, at_once=False
                ),
                f"nanomon, {traces} at once": lambda p=protocol: ours(
                    path.target, p, traces, expected, at_once=True
                ),
                "traceroute -n" + (" -I" if protocol == "icmp" else ""): lambda p=protocol: (
                    system_traceroute(path.target, p, traces, expected)
                ),
            }
            for name, run in kinds.items():
                if name.startswith("traceroute"):  # warm up: imports, caches, first fork
                    system_traceroute(path.target, protocol, 1, expected)
                else:
                    ours(path.target, protocol, 1, expected, at_once=False)
                rows.append({"protocol": protocol, "kind": name, **measure(run, traces)})
    print_table(
        f"CPU per trace of a 3-hop path, {traces} traces of each (ms)",
        ["protocol", "kind", "CPU", "of which children", "wall"],
        [
            [row["protocol"], row["kind"], row["cpu_ms_per_trace"],
             row["children_cpu_ms_per_trace"], row["wall_ms_per_trace"]]
            for row in rows
        ],
    )  # fmt: skip
    write_json(
        "traceroute",
        {"benchmark": "traceroute", **meta, "quiet": quiet, "traces": traces, "rows": rows},
        out_dir=None if arguments.out_dir is None else Path(arguments.out_dir),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
