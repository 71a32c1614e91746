"""Pings per second a NanoMon web server ingests, with 10,000 push monitors.

    python -m bench.push [--monitors 10000] [--seconds 30] [--concurrency 32] [--workers 3]
        [--database nanomon_bench_push] [--drop]

Creates (or empties) the database, migrates it, creates ``--monitors`` push monitors through
the ORM and pings each once (a monitor's first ping also opens its alert state; the figure
is the steady state of jobs that have reported before), starts gunicorn as
docs/deployment.md runs it (``gunicorn nanomon.wsgi --workers 3``, which reads
gunicorn.conf.py: gthread, 8 threads) on a free loopback port, and sends
``GET /ping/<token>`` for tokens drawn at random, from ``--concurrency`` connections kept
alive (aiohttp), for ``--seconds`` after a 3-second warm-up. Prints pings per second,
latency percentiles (send to last byte), status counts, the CPU seconds of gunicorn, the load
generator and PostgreSQL, and checks that the database holds one result per 200 answered.
Writes bench/out/push.json. The load generator shares the machine's cores with the server:
its CPU is printed beside the figure.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import aiohttp

from bench import db
from bench.common import (
    OUT_DIR,
    REPOSITORY,
    cpu_seconds,
    free_port,
    postgres_backends,
    print_table,
    process_tree,
    run_metadata,
    stop_process,
    summarize,
    write_json,
)


def seed(count: int) -> list[str]:
    """``count`` push monitors (interval 1h, grace 1m, deadlines far away); their tokens."""
    from django.utils import timezone

    from monitors.models import Monitor

    now = timezone.now()
    tokens = [secrets.token_urlsafe(16) for _ in range(count)]
    Monitor.objects.bulk_create(
        [
            Monitor(
                name=f"job {index}", kind="push", target=f"job {index}", interval="1h",
                interval_duration=timedelta(hours=1), properties={"grace": "1m"},
                rule="exitCode == 0", push_token=token, next_run_at=now + timedelta(hours=2),
            )
            for index, token in enumerate(tokens)
        ],
        batch_size=2000,
    )  # fmt: skip
    return tokens


def prime(tokens: list[str]) -> None:
    """One ping per monitor, in groups, before measuring: a monitor's first ping also opens its
    alert state (unknown → up), which a running job's monitor did long ago; the figure is for
    the steady state."""
    from django.utils import timezone

    from loop.pings import Ping, PingKind, pings_record

    for start in range(0, len(tokens), 500):
        now = timezone.now()
        pings_record(
            [(Ping(token, PingKind.SUCCESS), now) for token in tokens[start : start + 500]]
        )


def start_web(environment: dict[str, str], port: int, workers: int, log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        web = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "nanomon.wsgi", "--bind", f"127.0.0.1:{port}",
             "--workers", str(workers), "--log-level", "warning"],
            cwd=REPOSITORY, env=environment, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    deadline = time.monotonic() + 60
    import urllib.request

    while time.monotonic() < deadline:
        if web.poll() is not None:
            raise RuntimeError(f"gunicorn exited; see {log}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2).read()
            return web
        except OSError:
            time.sleep(0.2)
    web.kill()
    raise RuntimeError("gunicorn did not answer within 60s")


async def load(base: str, tokens: list[str], concurrency: int, seconds: float, warmup: float):
    """Ping from ``concurrency`` keep-alive connections; latencies (s) and statuses after the
    warm-up, and the measured wall time."""
    latencies: list[float] = []
    statuses: Counter[int | str] = Counter()
    rng = random.Random(7)
    started = time.perf_counter()
    measure_from = started + warmup
    stop_at = measure_from + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def client() -> None:
            while (now := time.perf_counter()) < stop_at:
                token = rng.choice(tokens)
                try:
                    async with session.get(f"{base}/ping/{token}") as response:
                        await response.read()
                        status: int | str = response.status
                except aiohttp.ClientError as error:
                    status = type(error).__name__
                if now >= measure_from:
                    latencies.append(time.perf_counter() - now)
                    statuses[status] += 1

        await asyncio.gather(*(client() for _ in range(concurrency)))
    return latencies, statuses, time.perf_counter() - measure_from


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.push", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--monitors", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers (docs: 3)")
    parser.add_argument(
        "--threads", type=int, default=8, help="NANOMON_WEB_THREADS, threads per worker (8)"
    )
    parser.add_argument("--database", default="nanomon_bench_push")
    parser.add_argument("--server-url", default=db.DEFAULT_SERVER_URL)
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    parser.add_argument("--out-dir", default=None)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    meta = run_metadata()
    out_dir = Path(arguments.out_dir) if arguments.out_dir else OUT_DIR
    work_dir = out_dir / "push-work"
    work_dir.mkdir(parents=True, exist_ok=True)
    database_url = db.database_url(arguments.server_url, arguments.database)
    environment = db.process_environment(
        database_url=database_url, broker_url="redis://127.0.0.1:6379/13", data_dir=work_dir
    )
    environment["NANOMON_PUSH_RATE"] = "100"  # random tokens: no token is flooded here
    environment["NANOMON_WEB_THREADS"] = str(arguments.threads)
    db.setup_django(environment)
    from django.db import connections

    from results.models import Result

    db.create_database(arguments.server_url, arguments.database)
    db.migrate(environment)
    tokens = seed(arguments.monitors)
    primed = time.perf_counter()
    prime(tokens)
    primed = time.perf_counter() - primed
    connections.close_all()
    print(f"{len(tokens)} push monitors in {arguments.database}, each pinged once in "
          f"{primed:.1f}s", flush=True)  # fmt: skip

    port = free_port()
    web = start_web(environment, port, arguments.workers, work_dir / "gunicorn.log")
    try:
        base = f"http://127.0.0.1:{port}"
        # Warm-up (connections, the recorders' database connections), then the measure, with
        # CPU counted from its start: gunicorn's processes, the database's backends of the
        # bench database, and this load generator.
        asyncio.run(load(base, tokens, arguments.concurrency, arguments.warmup, 0.0))

        def snapshot() -> dict[str, float]:
            return {
                "web": sum(cpu_seconds(pid) for pid in process_tree(web.pid)),
                "database": sum(cpu_seconds(pid) for pid in postgres_backends(arguments.database)),
                "load": time.process_time(),
            }

        before = snapshot()
        latencies, statuses, wall = asyncio.run(
            load(base, tokens, arguments.concurrency, arguments.seconds, 0.0)
        )
        after = snapshot()
        cpu = {name: after[name] - before[name] for name in before}
    finally:
        stop_process(web, 10)
    stored = Result.objects.count() - len(tokens)  # less the priming pings
    connections.close_all()
    answered_ok = statuses.get(200, 0)
    ms = summarize([latency * 1000 for latency in latencies])
    rate = len(latencies) / wall
    table = print_table(
        f"push pings, {arguments.monitors} monitors, {arguments.concurrency} connections, "
        f"gunicorn --workers {arguments.workers}, {arguments.threads} threads",
        ["pings/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "statuses", "CPU s web/db/load"],
        [[round(rate), ms["p50"], ms["p95"], ms["p99"], ms["max"], dict(statuses),
          f"{cpu['web']:.1f}/{cpu['database']:.1f}/{cpu['load']:.1f}"]],
    )  # fmt: skip
    print(f"results stored by the server: {stored} (200 answers, warm-up included)")
    write_json(
        "push",
        {
            **meta,
            "arguments": vars(arguments),
            "pings_per_second": rate,
            "latency_ms": ms,
            "statuses": {str(key): value for key, value in statuses.items()},
            "answered_ok_measured": answered_ok,
            "results_stored": stored,
            "cpu_seconds": cpu,
            "wall_seconds": wall,
            "table": table,
        },
        out_dir=out_dir,
    )
    if arguments.drop:
        db.drop_database(arguments.server_url, arguments.database)
    return 0


if __name__ == "__main__":
    sys.exit(main())
