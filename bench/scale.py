"""Scale benchmark: N enabled http monitors on the real monitoring loop of one machine.

    .venv/bin/python -m bench.scale --monitors 1000,10000 --minutes 5

For each size: a fresh PostgreSQL database (``--database``, default ``nanomon_bench``,
dropped at the end unless ``--keep-db``) and a Redis database (``--redis-url``) for the
broker; monitors bulk-created on their slot grid (``monitors.scheduling.next_slot``, no
per-monitor dispatch) against local http targets (``bench.targets``, 16 loopback addresses,
20 ms server delay); then real processes: celery beat (the dispatcher's clock),
``--workers`` celery workers (``--pool``/``--concurrency``), and gunicorn (``--web``). After
``--warmup`` seconds it measures ``--minutes`` minutes, waits ``--drain`` seconds for the last
runs, stops everything and reads the figures from the Result rows whose slot is in the
window:

* schedule lag p50/p99/max (``date - scheduled_for``: run start against its slot);
* missed slots: slots of the window's grid with no result (and duplicates: slots with two);
* what the probes measured (``respTime``) of targets whose true latency is ``--http-delay-ms``;
* results written per second (results whose run started in the window);
* CPU (% of one core) and peak RSS of beat, each worker, web, and the PostgreSQL backends of
  the bench database (the server's shared processes and Redis are listed apart: other users
  of the machine count in them too).

``--quick`` is a development and smoke-test mode: 20 monitors on a 2 s interval for 10 s,
with a private redis-server.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import db
from bench.common import (
    OUT_DIR,
    REPOSITORY,
    ProcessSampler,
    free_port,
    load_average,
    machine_busy_seconds,
    percentile,
    postgres_backends,
    postgres_shared_processes,
    print_table,
    process_tree,
    processes_matching,
    run_metadata,
    summarize,
    wait_for_quiet_machine,
    write_json,
)
from bench.targets import TargetConfig, TargetProcess, loopback_addresses

STOP_TIMEOUT_SECONDS = 30


# --- Seeding ---------------------------------------------------------------------------------


def seed_monitors(count: int, interval_seconds: float, urls: Sequence[str], start_at: datetime):
    """Bulk-create ``count`` enabled http monitors, each at its first grid slot after
    ``start_at``, with their state rows. Returns their ids."""
    from monitors.models import Monitor
    from monitors.scheduling import next_slot
    from results.models import MonitorState

    interval = timedelta(seconds=interval_seconds)
    monitors = [
        Monitor(
            name=f"bench http {index:05d}",
            kind=Monitor.Kind.HTTP,
            target=urls[index % len(urls)],
            interval=f"{interval_seconds:g}s",
            interval_duration=interval,
            rule="status == 200",
            enabled=True,
            properties={},
        )
        for index in range(count)
    ]
    Monitor.objects.bulk_create(monitors, batch_size=2000)
    for monitor in monitors:
        monitor.next_run_at = next_slot(monitor.id, interval_seconds, start_at)
    Monitor.objects.bulk_update(monitors, ["next_run_at"], batch_size=2000)
    MonitorState.objects.bulk_create(
        [MonitorState(monitor_id=monitor.id) for monitor in monitors], batch_size=2000
    )
    return [monitor.id for monitor in monitors]


# --- Processes -------------------------------------------------------------------------------


def process_commands(arguments: argparse.Namespace, web_port: int) -> dict[str, list[str]]:
    python = sys.executable
    beat = [python, "-m", "celery", "-A", "nanomon", "beat", "--loglevel", arguments.log_level]
    commands = {"beat": beat}
    for index in range(1, arguments.workers + 1):
        commands[f"worker-{index}"] = [
            python, "-m", "celery", "-A", "nanomon", "worker",
            "--pool", arguments.pool, "--concurrency", str(arguments.concurrency),
            "--hostname", f"bench{index}-{os.getpid()}@%h", "--loglevel", arguments.log_level,
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
    if arguments.web:
        commands["web"] = [
            python, "-m", "gunicorn", "nanomon.wsgi", "--bind", f"127.0.0.1:{web_port}",
            "--workers", "2", "--log-level", "warning",
        ]  # fmt: skip
    return commands


def start_processes(commands, environment, log_dir: Path) -> dict[str, subprocess.Popen]:
    log_dir.mkdir(parents=True, exist_ok=True)
    processes = {}
    for name, command in commands.items():
        log = (log_dir / f"{name}.log").open("w")
        processes[name] = subprocess.Popen(
            command, cwd=REPOSITORY, env=environment, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
    return processes


def stop_processes(processes: dict[str, subprocess.Popen]) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def sleep_watching(seconds: float, processes: dict[str, subprocess.Popen]) -> None:
    """Sleep, failing at once if one of the processes exits."""
    deadline = time.monotonic() + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        for name, process in processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with code {process.returncode}")
        time.sleep(min(1.0, remaining))


class QueueDepth:
    """Samples the broker's queue lengths every second (the largest backlog seen), and the
    1-minute load average every 10 seconds (other users of the machine show up there)."""

    def __init__(self, broker_url: str, prefix: str, queues: Sequence[str] = ("probes", "celery")):
        import redis

        self.client = redis.Redis.from_url(broker_url)
        self.queues = queues
        self.prefix = prefix  # the run's NANOMON_BROKER_KEY_PREFIX
        self.peak = dict.fromkeys(queues, 0)
        self.load_samples: list[tuple[int, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="bench-queues")

    def _run(self) -> None:
        started = time.monotonic()
        while not self._stop.wait(1.0):
            elapsed = int(time.monotonic() - started)
            if elapsed // 10 >= len(self.load_samples):
                self.load_samples.append((elapsed, round(os.getloadavg()[0], 2)))
            for queue in self.queues:
                try:
                    depth = int(self.client.llen(self.prefix + queue))
                    self.peak[queue] = max(self.peak[queue], depth)
                except Exception:  # noqa: S112  (a missed sample is fine)
                    continue

    def __enter__(self) -> QueueDepth:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()


# --- Analysis --------------------------------------------------------------------------------


def expected_slots(monitor_ids: Sequence[int], interval: float, start: float, end: float):
    """Every (monitor id, slot) of the grid with ``start <= slot < end`` (epoch seconds),
    the slot rounded to the millisecond, as ``monitors.scheduling.next_slot`` lays them."""
    from monitors.scheduling import phase_fraction

    slots = set()
    for monitor_id in monitor_ids:
        phase = phase_fraction(monitor_id) * interval
        first = math.ceil((start - phase) / interval)
        last = math.ceil((end - phase) / interval) - 1
        for index in range(first, last + 1):
            slots.add((monitor_id, round(round(phase + index * interval, 6), 3)))
    return slots


def analyse(monitor_ids, interval: float, window_start: datetime, window_end: datetime) -> dict:
    from django.db import connection

    from results.models import Result

    table = connection.ops.quote_name(Result._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT monitor_id, EXTRACT(EPOCH FROM scheduled_for)::float8, "  # noqa: S608
            f"EXTRACT(EPOCH FROM date)::float8, status, value FROM {table} "
            "WHERE scheduled_for >= %s AND scheduled_for < %s",
            [window_start, window_end],
        )
        rows = cursor.fetchall()
        cursor.execute(
            f"SELECT count(*) FROM {table} WHERE date >= %s AND date < %s",  # noqa: S608
            [window_start, window_end],
        )
        started_in_window = cursor.fetchone()[0]
    expected = expected_slots(
        monitor_ids, interval, window_start.timestamp(), window_end.timestamp()
    )
    seen = Counter((monitor_id, round(slot, 3)) for monitor_id, slot, *_ in rows)
    lags = [started - slot for _, slot, started, *_ in rows]
    latencies = [value for *_, status, value in rows if status == 0]
    window = (window_end - window_start).total_seconds()
    # Lag over the window in 30 s steps of slot time: a stall shows when it happened.
    steps: dict[int, list[float]] = {}
    for _, slot, started, *_ in rows:
        steps.setdefault(int((slot - window_start.timestamp()) // 30), []).append(started - slot)
    timeline = [
        {"from_second": step * 30, "results": len(lags_in_step),
         "lag_p99": round(percentile(lags_in_step, 99), 4), "lag_max": round(max(lags_in_step), 4)}
        for step, lags_in_step in sorted(steps.items())
    ]  # fmt: skip
    return {
        "window_seconds": round(window, 1),
        "slots_expected": len(expected),
        "results_in_window": len(rows),
        "missed_slots": len(expected - seen.keys()),
        "duplicate_slots": sum(1 for count in seen.values() if count > 1),
        "off_grid_results": len(seen.keys() - expected),
        "non_ok_results": sum(1 for *_, status, _ in rows if status != 0),
        "results_per_second": round(started_in_window / window, 1),
        "schedule_lag_seconds": summarize(lags, digits=4),
        # What the probes measured (respTime, ms) of targets whose true latency is known.
        "measured_latency_ms": summarize(latencies, digits=2),
        "lag_timeline": timeline,
    }


def log_problems(log_dir: Path) -> dict[str, int]:
    counts = {}
    for log in sorted(log_dir.glob("*.log")):
        text = log.read_text(errors="replace")
        counts[log.stem] = text.count("Traceback") + text.count(" ERROR ")
    return counts


# --- One size --------------------------------------------------------------------------------


def run_size(monitors: int, arguments: argparse.Namespace, broker_url: str, redis_pid: int):
    database = arguments.database
    database_url = db.database_url(arguments.server_url, database)
    out_dir = Path(arguments.out_dir) if arguments.out_dir else OUT_DIR
    work_dir = out_dir / "scale-work" / f"{database}-{monitors}"
    environment = {
        **db.process_environment(
            database_url=database_url, broker_url=broker_url, data_dir=work_dir / "data"
        ),
        # Keys of this run only (one prefix for all sizes: this process's settings keep it).
        "NANOMON_BROKER_KEY_PREFIX": f"nanomon-scale-{os.getpid()}:",
    }
    print(f"[{monitors} monitors] creating database {database} and migrating", flush=True)
    if not arguments._django_ready:
        db.setup_django(environment)  # settings only: nothing connects yet
        arguments._django_ready = True
    from django.db import connections

    connections.close_all()
    db.create_database(arguments.server_url, database)
    db.migrate(environment)
    if arguments.web:
        db.collect_static(environment)

    db.forget_broker_keys(environment)  # a previous size's leftovers; nobody else's keys
    addresses = tuple(loopback_addresses(arguments.addresses, third_octet=3))
    config = TargetConfig(http_addresses=addresses, http_delay=arguments.http_delay_ms / 1000)
    with TargetProcess(config) as endpoints:
        urls = [f"http://{host}:{port}/" for host, port in endpoints.http]
        start_at = datetime.now(UTC) + timedelta(seconds=arguments.start_delay)
        seeded = time.monotonic()
        monitor_ids = seed_monitors(monitors, arguments.interval, urls, start_at)
        print(f"[{monitors} monitors] seeded in {time.monotonic() - seeded:.1f}s", flush=True)
        connections.close_all()
        commands = process_commands(arguments, free_port())
        processes = start_processes(commands, environment, work_dir / "logs")
        try:
            print(f"[{monitors} monitors] warming up for {arguments.warmup:g}s", flush=True)
            sleep_watching(arguments.warmup, processes)
            roles = {
                name: (lambda pid=process.pid: process_tree(pid))
                for name, process in processes.items()
            }
            roles["postgres"] = lambda: postgres_backends(database)
            roles["postgres-shared"] = postgres_shared_processes
            roles["redis"] = lambda: [redis_pid] if redis_pid else []
            roles["targets"] = lambda: [endpoints.pid]
            load_at_window = load_average()
            window_start = datetime.now(UTC)
            machine_before = machine_busy_seconds()
            sampler = ProcessSampler(roles, every=1.0).start()
            print(f"[{monitors} monitors] measuring for {arguments.seconds:g}s", flush=True)
            with QueueDepth(broker_url, environment["NANOMON_BROKER_KEY_PREFIX"]) as depth:
                sleep_watching(arguments.seconds, processes)
            window_end = datetime.now(UTC)
            load_after_window = load_average()
            resources = sampler.stop()
            machine_busy = machine_busy_seconds() - machine_before
            sleep_watching(arguments.drain, processes)
        finally:
            stop_processes(processes)
    figures = analyse(monitor_ids, arguments.interval, window_start, window_end)
    figures.update(
        {
            "monitors": monitors,
            "interval_seconds": arguments.interval,
            "window_start": window_start.isoformat(),
            "window_end": window_end.isoformat(),
            "load_average_window_start": load_at_window,
            "load_average_window_end": load_after_window,
            "peak_queue_depth": depth.peak,
            "load_average_samples": depth.load_samples,
            # The whole machine's busy CPU in the window, and what the processes above do
            # not explain: other users' work (or short-lived processes the sampler missed).
            "machine_cpu_seconds": round(machine_busy, 1),
            "unexplained_cpu_seconds": round(
                max(0.0, machine_busy - sum(r["cpu_seconds"] for r in resources.values())), 1
            ),
            "processes": resources,
            "log_problems": log_problems(work_dir / "logs"),
            "logs": str(work_dir / "logs"),
        }
    )
    connections.close_all()
    db.forget_broker_keys(environment)
    if not arguments.keep_db:
        db.drop_database(arguments.server_url, database)
    return figures


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scale", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--monitors", default="1000,10000", help="comma-separated sizes")
    parser.add_argument("--minutes", type=float, default=5.0, help="measured window (5)")
    parser.add_argument("--warmup", type=float, default=90.0, help="seconds before measuring")
    parser.add_argument("--drain", type=float, default=15.0, help="seconds after the window")
    parser.add_argument("--interval", type=float, default=60.0, help="monitor interval, s (60)")
    parser.add_argument("--start-delay", type=float, default=5.0, help="first slots after, s")
    parser.add_argument("--workers", type=int, default=2, help="celery worker processes (2)")
    parser.add_argument("--pool", default="threads", help="worker pool (threads)")
    parser.add_argument("--concurrency", type=int, default=8, help="per worker (8)")
    parser.add_argument("--web", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--addresses", type=int, default=16, help="loopback target addresses")
    parser.add_argument("--http-delay-ms", type=float, default=20.0, help="target latency")
    parser.add_argument("--database", default="nanomon_bench", help="bench database name")
    parser.add_argument("--server-url", default=db.DEFAULT_SERVER_URL, help="PostgreSQL server")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13", help="broker")
    parser.add_argument(
        "--private-redis", action="store_true", help="start a throw-away redis-server"
    )
    parser.add_argument("--keep-db", action="store_true", help="keep the database afterwards")
    parser.add_argument("--log-level", default="WARNING", help="of beat and workers (logs/)")
    parser.add_argument("--quick", action="store_true", help="20 monitors, 2 s interval, 10 s")
    parser.add_argument("--max-load", type=float, default=1.5, help="wait below this load")
    parser.add_argument("--max-wait", type=float, default=1200, help="seconds to wait (0: none)")
    parser.add_argument("--out-dir", default=None, help="where the JSON goes (bench/out)")
    arguments = parser.parse_args(argv)
    if arguments.quick:  # other defaults; options given still win (``--opt=value`` too)
        parser.set_defaults(
            monitors="20", interval=2.0, warmup=6.0, minutes=10 / 60, drain=4.0,
            start_delay=2.0, private_redis=True, workers=1, addresses=4,
        )  # fmt: skip
        arguments = parser.parse_args(argv)
    arguments.sizes = [int(size) for size in str(arguments.monitors).split(",") if size.strip()]
    arguments.seconds = arguments.minutes * 60
    arguments._django_ready = False
    db.check_name(arguments.database)
    return arguments


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    meta = run_metadata()
    sizes: list[dict] = []
    redis_context = db.PrivateRedis() if arguments.private_redis else None
    if redis_context:
        redis_context.__enter__()
        broker_url, redis_pid = redis_context.url, redis_context.pid
    else:
        broker_url = arguments.redis_url
        found = processes_matching(r"^(/usr/bin/)?redis-server ")
        redis_pid = found[0] if found else 0
    try:
        for monitors in arguments.sizes:
            gate = wait_for_quiet_machine(arguments.max_load, arguments.max_wait)
            sizes.append(
                {**run_size(monitors, arguments, broker_url, redis_pid), "load_gate": gate}
            )
    finally:
        if redis_context:
            redis_context.__exit__(None, None, None)

    print()
    summary = print_table(
        f"scale: http monitors every {arguments.interval:g}s, {arguments.workers} worker(s) "
        f"{arguments.pool}x{arguments.concurrency}, window {arguments.seconds:g}s after "
        f"{arguments.warmup:g}s warm-up",
        ["monitors", "results/s", "lag p50 s", "lag p99 s", "lag max s", "missed",
         "dupes", "non-OK", "slots", "resp p50 ms", "resp p99 ms", "load@start"],
        [
            [size["monitors"], size["results_per_second"],
             size["schedule_lag_seconds"]["p50"], size["schedule_lag_seconds"]["p99"],
             size["schedule_lag_seconds"]["max"], size["missed_slots"],
             size["duplicate_slots"], size["non_ok_results"], size["slots_expected"],
             size["measured_latency_ms"]["p50"], size["measured_latency_ms"]["p99"],
             size["load_average_window_start"][0]]
            for size in sizes
        ],
    )  # fmt: skip
    resource_tables = []
    for size in sizes:
        resource_tables.append(
            print_table(
                f"\nprocesses at {size['monitors']} monitors (CPU % of one core over the window)",
                ["process", "CPU %", "CPU s", "peak RSS MB", "sum RSS MB", "procs"],
                [
                    [
                        name,
                        figures["cpu_percent"],
                        figures["cpu_seconds"],
                        figures["peak_rss_mb"],
                        figures["peak_rss_total_mb"],
                        figures["processes"],
                    ]
                    for name, figures in size["processes"].items()
                ],
            )
        )
    payload = {
        "benchmark": "scale",
        **meta,
        "load_average_at_end": load_average(),
        "parameters": {
            "sizes": arguments.sizes,
            "minutes": arguments.minutes,
            "warmup_seconds": arguments.warmup,
            "drain_seconds": arguments.drain,
            "interval_seconds": arguments.interval,
            "workers": arguments.workers,
            "pool": arguments.pool,
            "concurrency": arguments.concurrency,
            "web": arguments.web,
            "http_delay_ms": arguments.http_delay_ms,
            "quick": arguments.quick,
            "settings": {
                name: os.environ.get(name)
                for name in (
                    "NANOMON_DISPATCH_BATCH_SIZE",
                    "NANOMON_PROBE_CONCURRENCY",
                    "NANOMON_DISPATCH_LIMIT",
                    "NANOMON_DISPATCH_LOOKAHEAD",
                    "NANOMON_WORKER_PREFETCH",
                )
            },
        },
        "sizes": sizes,
        "table": "\n".join([summary, *resource_tables]),
    }
    write_json("scale", payload, out_dir=Path(arguments.out_dir) if arguments.out_dir else None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
