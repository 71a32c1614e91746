"""Fault benchmark: does the monitoring loop survive its broker and its database going away?

    .venv/bin/python -m bench.faults --monitors 300

One private Redis (the broker) and one private PostgreSQL (``bench/private_servers.py``, on
free loopback ports, thrown away at the end), ``--monitors`` http monitors every
``--interval`` seconds against local targets (``bench.targets``) plus one hostile-regex monitor
(``bodyRegex`` ``(a+)+$`` against 40 ``a``s and a ``!``) and one slow monitor (a
``--slow-timeout`` timeout against a server that accepts connections and never answers; its
interval must exceed its timeout), ``--workers`` celery workers and celery beat. Then, one
after the other, with ``--baseline`` seconds before each fault and ``--recovery`` after it:

* ``broker-restart``: Redis stopped and started again at once (its queued messages lost);
* ``broker-outage``: Redis down for ``--outage`` seconds;
* ``database-outage``: PostgreSQL down for ``--outage`` seconds (``pg_ctl stop -m fast``).

For each fault it prints and writes to ``bench/out/faults-<UTC timestamp>.json``:

* process deaths (which process, when, its exit status and last log lines; a dead process
  is started again before the next fault, so faults are judged one by one);
* the largest gap between two results of one healthy monitor (slot to slot, the window's
  edges included), which monitor, the median of the monitors' largest gaps, how many had a
  gap over twice the interval, and how long after the fault ended the last one resumed;
* duplicate results: the same monitor and scheduled slot recorded twice;
* false alerts: a healthy monitor alerted down (a ``down`` transition), and its non-OK
  results (a run of a healthy target that failed because of the fault).

The workers run in the two shapes NanoMon ships: ``worker-1`` like bench.scale (``--without-
gossip --without-mingle --without-heartbeat``), ``worker-2`` with Celery's defaults (as in
docker-compose.yml). The PostgreSQL lease grace is the production one (NANOMON_LEASE_GRACE,
30 s): a batch the broker lost holds its monitors that long.
"""

from __future__ import annotations

import argparse
import http.server
import itertools
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench import db
from bench.common import (
    OUT_DIR,
    REPOSITORY,
    print_table,
    run_metadata,
    wait_for_quiet_machine,
    write_json,
)
from bench.private_servers import PrivatePostgres, RestartableRedis
from bench.scale import start_processes, stop_processes
from bench.targets import TargetConfig, TargetProcess, loopback_addresses

SCENARIOS = ("broker-restart", "broker-outage", "database-outage")
STOP_TIMEOUT_SECONDS = 30
LOG_TAIL_LINES = 15

# --- The database: migrated and seeded by a NanoMon process --------------------------------------

_PREPARE = """
import json, sys
import django
django.setup()
from django.core.management import call_command
from monitors.services import monitor_create
call_command("migrate", verbosity=0)
ids = [monitor_create(**fields).id for fields in json.load(sys.stdin)]
print("MONITOR_IDS " + json.dumps(ids))
"""


def prepare_database(environment: dict[str, str], monitors: Sequence[dict]) -> list[int]:
    """Migrate the database of ``environment`` and create ``monitors`` (``monitor_create``
    fields) through the services, in a process of its own; returns their ids in order."""
    completed = subprocess.run(
        [sys.executable, "-c", _PREPARE],
        input=json.dumps(list(monitors)),
        cwd=REPOSITORY,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    for line in completed.stdout.splitlines():
        if line.startswith("MONITOR_IDS "):
            return json.loads(line.removeprefix("MONITOR_IDS "))
    raise RuntimeError(f"preparing the database failed:\n{completed.stderr[-3000:]}")


def http_monitors(count: int, interval: str, urls: Sequence[str], name: str = "fault") -> list:
    return [
        {
            "name": f"{name} {index:05d}",
            "kind": "http",
            "target": urls[index % len(urls)],
            "interval": interval,
            "rule": "status == 200",
            "enabled": True,
        }
        for index in range(count)
    ]


@contextmanager
def never_answering_server() -> Iterator[str]:
    """An http:// URL whose server accepts connections (the kernel does, into the backlog)
    and never answers: every check against it times out."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    finally:
        listener.close()


@contextmanager
def hostile_body_server() -> Iterator[str]:
    """An http:// URL answering 40 ``a``s and a ``!``: with ``bodyRegex`` ``(a+)+$`` the
    issue's attack (Python's re backtracks for hours on it; RE2 answers at once)."""
    body = b"a" * 40 + b"!"

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


# --- The processes -------------------------------------------------------------------------------

WORKER_SHAPES = (
    ("--without-gossip", "--without-mingle", "--without-heartbeat"),  # bench.scale's
    (),  # Celery's defaults (docker-compose.yml)
)


def fleet_commands(workers: int, concurrency: int) -> dict[str, list[str]]:
    python = sys.executable
    commands = {"beat": [python, "-m", "celery", "-A", "nanomon", "beat", "--loglevel", "INFO"]}
    for index in range(1, workers + 1):
        commands[f"worker-{index}"] = [
            python, "-m", "celery", "-A", "nanomon", "worker", "--pool", "threads",
            "--concurrency", str(concurrency), "--hostname", f"faults{index}-{os.getpid()}@%h",
            "--loglevel", "INFO", *WORKER_SHAPES[(index - 1) % len(WORKER_SHAPES)],
        ]  # fmt: skip
    return commands


@dataclass
class Fleet:
    """Celery beat and workers on one environment; notices (and can replace) dead ones."""

    environment: dict[str, str]
    log_dir: Path
    commands: dict[str, list[str]]
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    deaths: list[dict] = field(default_factory=list)
    _reported: set[int] = field(default_factory=set)

    def start(self) -> Fleet:
        self.processes = start_processes(self.commands, self.environment, self.log_dir)
        return self

    def log(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def check(self) -> list[dict]:
        """Deaths noticed since the last check (each reported once)."""
        new = []
        for name, process in self.processes.items():
            if process.poll() is None or process.pid in self._reported:
                continue
            self._reported.add(process.pid)
            lines = self.log(name).read_text(errors="replace").splitlines()
            death = {
                "process": name,
                "pid": process.pid,
                "exit_code": process.returncode,
                "noticed_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "unrecoverable": next((line for line in lines if "Unrecoverable" in line), None),
                "last_lines": lines[-LOG_TAIL_LINES:],
            }
            self.deaths.append(death)
            new.append(death)
        return new

    def alive(self) -> dict[str, bool]:
        return {name: process.poll() is None for name, process in self.processes.items()}

    def replace_dead(self) -> list[str]:
        """Start again every process that exited (its log kept aside); returns their names."""
        dead = [name for name, process in self.processes.items() if process.poll() is not None]
        for name in dead:
            kept = self.log_dir / f"{name}.died-{self.processes[name].pid}.log"
            shutil.move(self.log(name), kept)
            self.processes.update(
                start_processes({name: self.commands[name]}, self.environment, self.log_dir)
            )
        return dead

    def sleep(self, seconds: float, *, until: Callable[[], bool] | None = None) -> float:
        """Sleep up to ``seconds`` (less once ``until()`` is true), noticing deaths every
        second; returns the seconds slept."""
        started = time.monotonic()
        deadline = started + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            self.check()
            if until is not None and until():
                break
            time.sleep(min(1.0, remaining))
        self.check()
        return time.monotonic() - started

    def stop(self) -> None:
        stop_processes(self.processes)  # SIGTERM (a warm shutdown), then SIGKILL after 30 s


# --- Figures -------------------------------------------------------------------------------------


def _epoch(moment: datetime) -> float:
    return moment.timestamp()


def read_window(database_url: str, start: datetime, end: datetime) -> dict:
    """Results whose slot is in [start, end) and ``down`` transitions created in it."""
    import psycopg

    with psycopg.connect(database_url, connect_timeout=10) as connection:
        results = connection.execute(
            "SELECT monitor_id, EXTRACT(EPOCH FROM scheduled_for)::float8,"
            " EXTRACT(EPOCH FROM date)::float8, status, message FROM results_result"
            " WHERE scheduled_for >= %s AND scheduled_for < %s",
            [start, end],
        ).fetchall()
        downs = connection.execute(
            "SELECT monitor_id, EXTRACT(EPOCH FROM created_at)::float8, reason"
            " FROM alerts_transition WHERE to_state = 'down' AND created_at >= %s"
            " AND created_at < %s",
            [start, end],
        ).fetchall()
    return {"results": results, "downs": downs}


def analyse(
    database_url: str,
    *,
    healthy: Sequence[int],
    interval: float,
    start: datetime,
    end: datetime,
    fault_start: datetime | None = None,
    fault_end: datetime | None = None,
    slow: Sequence[int] = (),
) -> dict:
    """The figures of one window (see the module's docstring). ``healthy``: monitors whose
    target always answers; ``slow``: monitors reported apart (their target never answers)."""
    window = read_window(database_url, start, end)
    rows = window["results"]
    healthy_set = set(healthy)
    slots: dict[int, list[float]] = defaultdict(list)
    started_after_fault: dict[int, float] = {}
    end_of_fault = _epoch(fault_end) if fault_end else None
    for monitor_id, slot, started, _status, _message in rows:
        slots[monitor_id].append(slot)
        if end_of_fault is not None and started >= end_of_fault:
            first = started_after_fault.get(monitor_id)
            started_after_fault[monitor_id] = started if first is None else min(first, started)
    counts = Counter((monitor_id, round(slot, 3)) for monitor_id, slot, *_ in rows)
    duplicates = sorted(key for key, count in counts.items() if count > 1)

    largest: dict[int, float] = {}
    for monitor_id in healthy:
        edges = [_epoch(start), *sorted(slots.get(monitor_id, [])), _epoch(end)]
        largest[monitor_id] = max(b - a for a, b in itertools.pairwise(edges))
    worst = max(largest, key=largest.get) if largest else None
    non_ok = [
        (monitor_id, message)
        for monitor_id, _slot, _started, status, message in rows
        if status != 0 and monitor_id in healthy_set
    ]
    false_alerts = [
        {"monitor_id": monitor_id, "reason": reason}
        for monitor_id, _at, reason in window["downs"]
        if monitor_id in healthy_set
    ]
    figures: dict[str, object] = {
        "window_seconds": round((end - start).total_seconds(), 1),
        "results": len(rows),
        "largest_gap_seconds": round(largest[worst], 2) if worst is not None else None,
        "largest_gap_monitor": worst,
        "median_largest_gap_seconds": (
            round(statistics.median(largest.values()), 2) if largest else None
        ),
        "monitors_with_gap_over_2_intervals": sum(
            1 for gap in largest.values() if gap > 2 * interval
        ),
        "duplicate_results": len(duplicates),
        "duplicates_sample": [list(key) for key in duplicates[:10]],
        "false_alerts": len(false_alerts),
        "false_alerts_sample": false_alerts[:10],
        "healthy_non_ok_results": len(non_ok),
        "healthy_non_ok_messages": dict(Counter(message for _, message in non_ok).most_common(5)),
    }
    if end_of_fault is not None:
        waits = {
            monitor_id: started_after_fault[monitor_id] - end_of_fault
            for monitor_id in healthy
            if monitor_id in started_after_fault
        }
        figures["not_resumed"] = sorted(set(healthy) - waits.keys())
        figures["resumed_within_seconds"] = round(max(waits.values()), 2) if waits else None
        figures["fault_seconds"] = round((fault_end - fault_start).total_seconds(), 1)
    for label, monitor_id in zip(("slow_monitor", "hostile_regex_monitor"), slow, strict=False):
        own = [row for row in rows if row[0] == monitor_id]
        figures[label] = {
            "results": len(own),
            "messages": dict(Counter(row[4] for row in own).most_common(3)),
        }
    return figures


def all_duplicates(database_url: str) -> int:
    """(monitor, slot) pairs recorded more than once over the whole run."""
    import psycopg

    with psycopg.connect(database_url, connect_timeout=10) as connection:
        return connection.execute(
            "SELECT count(*) FROM (SELECT 1 FROM results_result"
            " GROUP BY monitor_id, scheduled_for HAVING count(*) > 1) AS twice"
        ).fetchone()[0]


# --- One run -------------------------------------------------------------------------------------


def inject(name: str, redis: RestartableRedis, postgres: PrivatePostgres, outage: float) -> None:
    if name == "broker-restart":
        redis.restart(0.0)
    elif name == "broker-outage":
        redis.restart(outage)
    elif name == "database-outage":
        postgres.stop()
        time.sleep(outage)
        postgres.start()
    else:
        raise ValueError(f"unknown scenario {name!r}")


def run(arguments: argparse.Namespace) -> dict:
    out_dir = Path(arguments.out_dir) if arguments.out_dir else OUT_DIR
    work_dir = out_dir / "faults-work" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    config = TargetConfig(
        http_addresses=tuple(loopback_addresses(arguments.addresses, third_octet=4)),
        http_delay=arguments.http_delay_ms / 1000,
    )
    interval = arguments.interval
    report: dict = {"scenarios": {}}
    with (
        RestartableRedis() as redis,
        PrivatePostgres() as postgres,
        TargetProcess(config) as endpoints,
        never_answering_server() as silent_url,
        hostile_body_server() as hostile_url,
    ):
        database_url = postgres.create_database("nanomon_faults")
        environment = db.process_environment(
            database_url=database_url, broker_url=redis.url, data_dir=work_dir / "data"
        )
        urls = [f"http://{host}:{port}/" for host, port in endpoints.http]
        slow_fields = {
            "name": "fault slow", "kind": "http", "target": silent_url,
            "interval": f"{arguments.slow_interval:g}s", "enabled": True,
            "properties": {"timeout": f"{arguments.slow_timeout:g}s"},
        }  # fmt: skip
        hostile_fields = {
            "name": "fault hostile regex", "kind": "http", "target": hostile_url,
            "interval": f"{interval:g}s", "enabled": True,
            "properties": {"bodyRegex": "(a+)+$"},
        }  # fmt: skip
        print(
            f"preparing {arguments.monitors} monitors + 1 slow one + 1 hostile regex",
            flush=True,
        )
        ids = prepare_database(
            environment,
            [
                *http_monitors(arguments.monitors, f"{interval:g}s", urls),
                slow_fields,
                hostile_fields,
            ],
        )
        healthy, slow = ids[:-2], ids[-2:]
        fleet = Fleet(
            environment, work_dir / "logs", fleet_commands(arguments.workers, arguments.concurrency)
        ).start()
        try:
            print(f"warming up for {arguments.warmup:g}s", flush=True)
            fleet.sleep(arguments.warmup)
            for name in arguments.scenarios:
                deaths_before = len(fleet.deaths)
                start = datetime.now(UTC)
                print(f"[{name}] baseline {arguments.baseline:g}s", flush=True)
                fleet.sleep(arguments.baseline)
                fault_start = datetime.now(UTC)
                print(f"[{name}] fault", flush=True)
                inject(name, redis, postgres, arguments.outage)
                fault_end = datetime.now(UTC)
                print(f"[{name}] recovery {arguments.recovery:g}s", flush=True)
                fleet.sleep(arguments.recovery)
                end = datetime.now(UTC)
                figures = analyse(
                    database_url, healthy=healthy, slow=slow, interval=interval,
                    start=start, end=end, fault_start=fault_start, fault_end=fault_end,
                )  # fmt: skip
                figures["process_deaths"] = fleet.deaths[deaths_before:]
                figures["alive_at_end"] = fleet.alive()
                figures["replaced"] = fleet.replace_dead()
                report["scenarios"][name] = figures
        finally:
            fleet.stop()
        report["duplicate_results_whole_run"] = all_duplicates(database_url)
        report["logs"] = str(work_dir / "logs")
    return report


def print_report(report: dict, interval: float) -> None:
    rows = []
    for name, figures in report["scenarios"].items():
        gap = figures["largest_gap_seconds"]
        rows.append(
            [
                name,
                figures.get("fault_seconds"),
                len(figures["process_deaths"]),
                gap,
                figures["largest_gap_monitor"],
                figures["median_largest_gap_seconds"],
                figures["monitors_with_gap_over_2_intervals"],
                figures.get("resumed_within_seconds"),
                len(figures.get("not_resumed", [])),
                figures["duplicate_results"],
                figures["false_alerts"],
                figures["healthy_non_ok_results"],
            ]
        )
    print_table(
        f"faults (healthy monitors every {interval:g}s; gaps slot to slot, seconds)",
        ["fault", "down s", "deaths", "max gap", "monitor", "p50 gap", f">{2 * interval:g}s",
         "resumed", "not res.", "dupes", "false alerts", "non-OK"],
        rows,
    )  # fmt: skip
    for name, figures in report["scenarios"].items():
        for death in figures["process_deaths"]:
            print(
                f"[{name}] {death['process']} (pid {death['pid']}) exited with "
                f"{death['exit_code']}: {death['unrecoverable'] or death['last_lines'][-1:]}"
            )
        if figures["healthy_non_ok_messages"]:
            print(f"[{name}] non-OK results of healthy monitors: "
                  f"{figures['healthy_non_ok_messages']}")  # fmt: skip
        for label in ("slow_monitor", "hostile_regex_monitor"):
            if label in figures:
                print(f"[{name}] {label.replace('_', ' ')}: {figures[label]}")
    print(f"duplicate results over the whole run: {report['duplicate_results_whole_run']}")


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.faults", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--monitors", type=int, default=300, help="healthy http monitors")
    parser.add_argument("--interval", type=float, default=10.0, help="their interval, s (10)")
    parser.add_argument("--slow-timeout", type=float, default=60.0, help="slow monitor, s (60)")
    parser.add_argument(
        "--slow-interval", type=float, default=90.0, help="slow monitor interval (> timeout)"
    )
    parser.add_argument("--outage", type=float, default=60.0, help="broker/database down, s")
    parser.add_argument("--baseline", type=float, default=30.0, help="before each fault, s")
    parser.add_argument("--recovery", type=float, default=75.0, help="after each fault, s")
    parser.add_argument("--warmup", type=float, default=30.0, help="before the first, s")
    parser.add_argument(
        "--scenarios", default=",".join(SCENARIOS), help=f"comma-separated: {SCENARIOS}"
    )
    parser.add_argument("--workers", type=int, default=2, help="celery workers (2)")
    parser.add_argument("--concurrency", type=int, default=8, help="threads per worker (8)")
    parser.add_argument("--addresses", type=int, default=8, help="loopback target addresses")
    parser.add_argument("--http-delay-ms", type=float, default=20.0, help="target latency")
    parser.add_argument("--max-load", type=float, default=1.5, help="wait below this load")
    parser.add_argument("--max-wait", type=float, default=1200, help="seconds to wait (0: none)")
    parser.add_argument("--out-dir", default=None, help="where the JSON goes (bench/out)")
    arguments = parser.parse_args(argv)
    arguments.scenarios = [name.strip() for name in arguments.scenarios.split(",") if name]
    unknown = set(arguments.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {sorted(unknown)}")
    if arguments.slow_interval <= arguments.slow_timeout:
        parser.error("--slow-interval must be longer than --slow-timeout (a monitor's rule)")
    return arguments


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    payload = {"metadata": run_metadata()}
    payload["machine_wait"] = wait_for_quiet_machine(arguments.max_load, arguments.max_wait)
    payload["settings"] = {
        key: value for key, value in vars(arguments).items() if key not in {"out_dir"}
    }
    started = time.monotonic()
    payload.update(run(arguments))
    payload["seconds"] = round(time.monotonic() - started, 1)
    print_report(payload, arguments.interval)
    write_json("faults", payload, Path(arguments.out_dir) if arguments.out_dir else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
