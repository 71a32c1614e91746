"""Engine benchmark: our probe engine against Prometheus' blackbox_exporter, same targets,
same concurrency, same run.

    .venv/bin/python -m bench.engine --per-type 2000 --concurrency 200

For each probe type (http, tcp, dns, ping) it builds ``--per-type`` checks against local
targets (``bench.targets``, in their own process), runs them through ``run_checks_sync`` in
batches of ``--batch-size`` with ``--concurrency`` in flight (what a worker does with one
batch), then asks blackbox_exporter for the same probes through ``/probe`` with the same
number of requests in flight. Figures per type and prober:

* probes/s (wall clock), CPU-seconds per 1,000 probes and probes per CPU-second: the
  prober's own CPU only (this process for ours, from ``time.process_time``; the exporter's
  process from /proc for blackbox; the targets and the HTTP client asking blackbox are
  other processes);
* p50/p99 of the latency each prober reported, and of its error against the target's true
  latency (the server-side delay for http and dns; a loopback handshake or echo, ~0, for tcp
  and ping);
* the ratio ours / blackbox.

If the exporter is not installed the comparison is skipped with a message; nothing is
installed here.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench import blackbox
from bench.common import (
    cpu_seconds,
    load_average,
    print_table,
    ratio,
    run_metadata,
    summarize,
    wait_for_quiet_machine,
    write_json,
)
from bench.targets import Endpoints, TargetConfig, TargetProcess, loopback_addresses

TYPES = ("http", "tcp", "dns", "ping")
DNS_NAME = "a.bench."
WARMUP_PROBES = 50


@dataclass(frozen=True)
class Probe:
    """One probe to run, as our engine takes it and as blackbox's ``/probe`` takes it."""

    kind: str
    target: str
    properties: dict[str, str]
    blackbox_target: str


def build_probes(kind: str, count: int, endpoints: Endpoints, ping_hosts: Sequence[str]):
    """``count`` probes of ``kind``, spread round-robin over the targets' addresses."""
    if kind == "http":
        urls = [f"http://{host}:{port}/" for host, port in endpoints.http]
        return [Probe(kind, url, {}, url) for url in (urls[i % len(urls)] for i in range(count))]
    if kind == "tcp":
        pairs = [f"{host}:{port}" for host, port in endpoints.tcp]
        return [
            Probe(kind, pair, {}, pair) for pair in (pairs[i % len(pairs)] for i in range(count))
        ]
    if kind == "dns":
        assert endpoints.dns is not None
        server = f"{endpoints.dns[0]}:{endpoints.dns[1]}"
        properties = {"server": server, "type": "A"}
        return [Probe(kind, DNS_NAME, properties, server) for _ in range(count)]
    if kind == "ping":
        # One echo request per probe, as blackbox's icmp prober sends.
        properties = {"count": "1", "timeout": "2s"}
        return [
            Probe(kind, host, properties, host)
            for host in (ping_hosts[i % len(ping_hosts)] for i in range(count))
        ]
    raise ValueError(f"unknown probe type {kind!r}")


# Rules that make our verdict the same as blackbox's probe_success for each module.
RULES = {"http": "status >= 200 && status < 300", "tcp": "", "dns": "", "ping": ""}


@dataclass
class RunFigures:
    probes: int
    ok: int
    wall_seconds: float
    cpu_seconds: float
    latencies_ms: list[float]
    target_cpu_seconds: float
    client_cpu_seconds: float | None = None

    def as_dict(self, true_ms: float) -> dict:
        errors = [latency - true_ms for latency in self.latencies_ms]
        return {
            "probes": self.probes,
            "ok": self.ok,
            "wall_seconds": round(self.wall_seconds, 3),
            "probes_per_second": round(self.probes / self.wall_seconds, 1),
            "cpu_seconds": round(self.cpu_seconds, 3),
            "cpu_seconds_per_1000": round(1000 * self.cpu_seconds / self.probes, 3),
            "probes_per_cpu_second": round(self.probes / self.cpu_seconds, 1)
            if self.cpu_seconds > 0
            else None,
            "latency_ms": summarize(self.latencies_ms),
            "true_latency_ms": true_ms,
            "error_ms": summarize(errors),
            "target_cpu_seconds": round(self.target_cpu_seconds, 3),
            "client_cpu_seconds": None
            if self.client_cpu_seconds is None
            else round(self.client_cpu_seconds, 3),
        }


def run_ours(probes: Sequence[Probe], concurrency: int, batch_size: int, target_pid: int):
    from monitors.engine import CheckRequest, CheckStatus, run_checks_sync

    requests = [
        CheckRequest(kind=p.kind, target=p.target, properties=p.properties, rule=RULES[p.kind])
        for p in probes
    ]
    gc.collect()
    target_before = cpu_seconds(target_pid)
    cpu_before, wall_before = time.process_time(), time.perf_counter()
    results = []
    for start in range(0, len(requests), batch_size):
        results.extend(run_checks_sync(requests[start : start + batch_size], concurrency))
    wall = time.perf_counter() - wall_before
    cpu = time.process_time() - cpu_before
    ok = [result for result in results if result.status == CheckStatus.OK]
    return RunFigures(
        probes=len(results),
        ok=len(ok),
        wall_seconds=wall,
        cpu_seconds=cpu,
        latencies_ms=[result.value for result in ok],
        target_cpu_seconds=cpu_seconds(target_pid) - target_before,
    ), [result.message for result in results if result.status != CheckStatus.OK][:3]


async def _ask_blackbox(exporter_url: str, probes: Sequence[Probe], concurrency: int):
    gate = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=60)
    ) as session:

        async def one(probe: Probe) -> tuple[bool, float | None]:
            async with gate:
                params = {"module": blackbox.MODULES[probe.kind], "target": probe.blackbox_target}
                async with session.get(f"{exporter_url}/probe", params=params) as response:
                    return blackbox.parse_probe(await response.text(), probe.kind)

        return await asyncio.gather(*(one(probe) for probe in probes))


def run_blackbox(exporter: blackbox.BlackboxExporter, probes, concurrency: int, target_pid: int):
    gc.collect()
    target_before = cpu_seconds(target_pid)
    exporter_before = cpu_seconds(exporter.pid)
    client_before, wall_before = time.process_time(), time.perf_counter()
    answers = asyncio.run(_ask_blackbox(exporter.url, probes, concurrency))
    wall = time.perf_counter() - wall_before
    ok = [latency for success, latency in answers if success and latency is not None]
    return RunFigures(
        probes=len(answers),
        ok=len(ok),
        wall_seconds=wall,
        cpu_seconds=cpu_seconds(exporter.pid) - exporter_before,
        latencies_ms=ok,
        target_cpu_seconds=cpu_seconds(target_pid) - target_before,
        client_cpu_seconds=time.process_time() - client_before,
    )


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.engine", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--per-type", type=int, default=2000, help="probes per type (2000)")
    parser.add_argument("--concurrency", type=int, default=200, help="in flight (200)")
    parser.add_argument(
        "--batch-size", type=int, default=1000, help="checks per run_checks_sync call (1000)"
    )
    parser.add_argument("--types", default=",".join(TYPES), help="comma-separated subset")
    parser.add_argument("--addresses", type=int, default=16, help="loopback target addresses")
    parser.add_argument("--http-delay-ms", type=float, default=20.0, help="http true latency")
    parser.add_argument("--dns-delay-ms", type=float, default=5.0, help="dns true latency")
    parser.add_argument("--no-blackbox", action="store_true", help="skip the comparison")
    parser.add_argument("--max-load", type=float, default=1.5, help="wait below this load")
    parser.add_argument(
        "--max-wait", type=float, default=1200, help="seconds to wait for --max-load (0: none)"
    )
    parser.add_argument("--out-dir", default=None, help="where the JSON goes (bench/out)")
    arguments = parser.parse_args(argv)
    arguments.types = [kind.strip() for kind in arguments.types.split(",") if kind.strip()]
    unknown = set(arguments.types) - set(TYPES)
    if unknown:
        parser.error(f"unknown types: {', '.join(sorted(unknown))}")
    return arguments


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    # Probes are plain code; settings are only read for their defaults.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nanomon.settings")
    os.environ.setdefault("NANOMON_DATA_DIR", "/tmp/nanomon-bench-engine")  # noqa: S108

    meta = run_metadata()
    meta["load_gate"] = wait_for_quiet_machine(arguments.max_load, arguments.max_wait)
    binary = None if arguments.no_blackbox else blackbox.find_binary()
    if not arguments.no_blackbox and binary is None:
        print(
            "blackbox_exporter is not installed: the comparison is skipped. Install it with "
            f"`{blackbox.INSTALL_HINT}` (as root) and run again."
        )
    addresses = tuple(loopback_addresses(arguments.addresses, third_octet=1))
    config = TargetConfig(
        http_addresses=addresses if "http" in arguments.types else (),
        http_delay=arguments.http_delay_ms / 1000,
        tcp_addresses=addresses if "tcp" in arguments.types else (),
        dns="dns" in arguments.types,
        dns_delay=arguments.dns_delay_ms / 1000,
    )
    ping_hosts = loopback_addresses(arguments.addresses, third_octet=2)
    true_latency = {
        "http": arguments.http_delay_ms,
        "dns": arguments.dns_delay_ms,
        "tcp": 0.0,
        "ping": 0.0,
    }
    figures: dict[str, dict] = {}
    failures: dict[str, list[str]] = {}
    with TargetProcess(config) as endpoints:
        exporter_context = blackbox.BlackboxExporter(binary, dns_name=DNS_NAME) if binary else None
        exporter = exporter_context.__enter__() if exporter_context else None
        try:
            for kind in arguments.types:
                probes = build_probes(kind, arguments.per_type, endpoints, ping_hosts)
                warmup = probes[: min(WARMUP_PROBES, len(probes))]
                run_ours(warmup, arguments.concurrency, arguments.batch_size, endpoints.pid)
                if exporter:
                    run_blackbox(exporter, warmup, arguments.concurrency, endpoints.pid)
                ours, messages = run_ours(
                    probes, arguments.concurrency, arguments.batch_size, endpoints.pid
                )
                if messages:
                    failures[kind] = messages
                figures[kind] = {"ours": ours.as_dict(true_latency[kind])}
                if exporter:
                    theirs = run_blackbox(exporter, probes, arguments.concurrency, endpoints.pid)
                    figures[kind]["blackbox"] = theirs.as_dict(true_latency[kind])
                    figures[kind]["ratio_ours_to_blackbox"] = {
                        "probes_per_second": ratio(
                            figures[kind]["ours"]["probes_per_second"],
                            figures[kind]["blackbox"]["probes_per_second"],
                        ),
                        "probes_per_cpu_second": ratio(
                            figures[kind]["ours"]["probes_per_cpu_second"],
                            figures[kind]["blackbox"]["probes_per_cpu_second"],
                        ),
                    }
        finally:
            if exporter_context:
                exporter_context.__exit__(None, None, None)

    rows = []
    for kind, by_tool in figures.items():
        for tool in ("ours", "blackbox"):
            if tool not in by_tool:
                continue
            run = by_tool[tool]
            rows.append(
                [
                    kind,
                    tool,
                    f"{run['ok']}/{run['probes']}",
                    run["probes_per_second"],
                    run["cpu_seconds_per_1000"],
                    run["probes_per_cpu_second"],
                    run["latency_ms"]["p50"],
                    run["latency_ms"]["p99"],
                    run["true_latency_ms"],
                    run["error_ms"]["p50"],
                    run["error_ms"]["p99"],
                ]
            )
        if "ratio_ours_to_blackbox" in by_tool:
            ratios = by_tool["ratio_ours_to_blackbox"]
            rows.append(
                [kind, "ours/bb", "", ratios["probes_per_second"], None,
                 ratios["probes_per_cpu_second"], None, None, None, None, None]
            )  # fmt: skip
    print()
    table = print_table(
        f"engine: {arguments.per_type} probes per type, {arguments.concurrency} in flight "
        f"(load average at start {meta['load_gate']['load_at_start']})",
        ["type", "prober", "ok", "probes/s", "CPU-s/1k", "probes/CPU-s",
         "p50 ms", "p99 ms", "true ms", "err p50", "err p99"],
        rows,
    )  # fmt: skip
    if failures:
        print("non-OK results (first messages):", failures)
    payload = {
        "benchmark": "engine",
        **meta,
        "load_average_at_end": load_average(),
        "parameters": {
            "per_type": arguments.per_type,
            "concurrency": arguments.concurrency,
            "batch_size": arguments.batch_size,
            "types": arguments.types,
            "addresses": arguments.addresses,
            "http_delay_ms": arguments.http_delay_ms,
            "dns_delay_ms": arguments.dns_delay_ms,
        },
        "blackbox": {"binary": binary, "version": blackbox.binary_version(binary)}
        if binary
        else None,
        "results": figures,
        "failures": failures,
        "table": table,
    }
    write_json("engine", payload, out_dir=Path(arguments.out_dir) if arguments.out_dir else None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
