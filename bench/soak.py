"""Soak a shipped shape for minutes: does it stay up, on time, and alert once per outage?

    python -m bench.soak --shape embedded --minutes 30
    python -m bench.soak --shape single-host --minutes 30 --python /path/to/venv/bin/python

It starts the shape the way docs/deployment.md tells a user to, from a checkout (``--checkout``,
default this repository) and an interpreter (``--python``, e.g. a venv built from
``requirements.txt`` alone):

* ``embedded``: ``bin/nanomon run`` in the checkout (which builds the checkout's ``.venv`` from
  ``requirements.txt`` if it has none), SQLite and the SQLite broker in a data folder of its own;
* ``single-host``: ``manage.py migrate``, ``manage.py collectstatic --noinput``,
  ``gunicorn nanomon.wsgi``, ``celery -A nanomon worker`` and ``celery -A nanomon beat`` from
  the interpreter's venv, on a database of its own on ``DATABASE_URL``'s server and Redis
  (``CELERY_BROKER_URL``, default ``redis://127.0.0.1:6379/15``) under a key prefix of its own.

Then it creates ``--monitors`` monitors (default 200) through the REST API with a token made
by ``manage.py drf_create_token``: http, tcp, ping and dns against local targets
(``bench.targets``), at 2, 3, 5 and 10 s; a traceroute and a port scan every 5 s; one more
http monitor (``flap``) whose target answers 200 and 500 in turns of ``--flap-seconds``; and a
push monitor (``push``, every 2 s, 2 s grace) whose job pings it once a second through the
shape's web server until the counts are taken. Alerts go to a local SMTP sink. After the run
it prints, and writes to ``bench/out/soak-<shape>-*.json``:

* deaths and restarts per process (a single-host process that dies is started again, as
  systemd or Docker's restart policy would, and counted);
* per monitor, the longest gap between two results after warm-up, against
  ``2 × interval + NANOMON_LEASE_GRACE``; missed slots; duplicate slots;
* outages (from the stored results, by the alerting rule: ``ALERT_FAIL_COUNT`` failures in a
  row) against the down and recovery mails the sink received;
* the RSS of every process after warm-up and at the end;
* the push pings' answers, and the push monitor's runs that were not OK.

``--gate`` exits 1 when a target is missed: zero deaths, no gap above the bound, alerts =
outages, RSS growth at most 10 % after warm-up, every ping answered 200 and stored OK.
``.ci/run`` runs a 3-minute gate of each shape.
"""

from __future__ import annotations

import argparse
import http.server
import itertools
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.common import (
    REPOSITORY,
    free_port,
    print_table,
    process_tree,
    read_proc,
    run_metadata,
    write_json,
)
from bench.targets import TargetConfig, TargetProcess, loopback_addresses

INTERVALS = (2, 3, 5, 10)
KIND_SHARES = (("http", 0.4), ("tcp", 0.25), ("ping", 0.2), ("dns", 0.15))
LEASE_GRACE_SECONDS = 30
FAIL_COUNT = 3
RSS_GROWTH_LIMIT = 0.10
PUSH_MONITOR = {
    "name": "push", "type": "push", "target": "soak pinger", "interval": "2s",
    "properties": {"grace": "2s"}, "enabled": True,
}  # fmt: skip
SETTLE_SECONDS = 25
ADMIN_PASSWORD = "soak-admin-password-1"  # noqa: S105 - a throwaway local admin
MB = 1024 * 1024


# --- Targets -------------------------------------------------------------------------------------


class Flapper:
    """An HTTP target answering 200 and 500 in turns of ``period`` seconds; ``hold_up()`` ends
    the flapping in the up state (so the last outage closes before the count)."""

    def __init__(self, period: float) -> None:
        self.period = period
        self.held_up = False
        flapper = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                up = flapper.held_up or int(time.time() // flapper.period) % 2 == 0
                body = b"up" if up else b"down"
                self.send_response(200 if up else 500)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/flap"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def hold_up(self) -> None:
        self.held_up = True

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def monitor_definitions(count: int, endpoints, flap_url: str) -> list[dict]:
    """``count`` monitors of mixed types and intervals against ``endpoints``, plus ``flap``."""
    definitions = []
    kinds = [kind for kind, share in KIND_SHARES for _ in range(round(count * share))]
    kinds = (kinds + ["http"] * count)[:count]
    ping_addresses = loopback_addresses(max(1, count // 4), third_octet=2)
    for index, kind in enumerate(kinds):
        interval = INTERVALS[index % len(INTERVALS)]
        definition = {"name": f"soak {kind} {index:03d}", "type": kind, "interval": f"{interval}s"}
        if kind == "http":
            host, port = endpoints.http[index % len(endpoints.http)]
            definition.update(target=f"http://{host}:{port}/", rule="status == 200")
        elif kind == "tcp":
            host, port = endpoints.tcp[index % len(endpoints.tcp)]
            definition.update(target=f"{host}:{port}")
        elif kind == "ping":
            definition.update(target=ping_addresses[index % len(ping_addresses)])
        else:
            host, port = endpoints.dns
            definition.update(
                target=f"host{index}.soak.test", properties={"server": f"{host}:{port}"}
            )
        definitions.append({"enabled": True, **definition})
    # The remembering types (a traced route, a scan's open ports kept between runs), with the
    # rules their templates suggest.
    host, port = endpoints.tcp[0]
    definitions += [
        {"name": "soak traceroute", "type": "traceroute", "target": ping_addresses[0],
         "interval": "5s", "rule": "reached == 1 && routeChanged == 0",
         "properties": {"hops": "4", "timeout": "3s", "probes": "1"}, "enabled": True},
        {"name": "soak portscan", "type": "portscan", "target": host, "interval": "5s",
         "rule": "unexpectedOpenCount == 0 && unexpectedClosedCount == 0",
         "properties": {"ports": f"{port}-{port + 4}", "timeout": "3s"},  # baseline: 1st scan
         "enabled": True},
    ]  # fmt: skip
    definitions.append(
        {
            "name": "flap",
            "type": "http",
            "target": flap_url,
            "interval": "2s",
            "rule": "status == 200",
            "enabled": True,
        }
    )
    return definitions


# --- The shape -----------------------------------------------------------------------------------


@dataclass
class Shape:
    name: str
    checkout: Path
    python: Path
    workdir: Path
    port: int
    env: dict[str, str]
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    commands: dict[str, list[str]] = field(default_factory=dict)
    deaths: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    database_name: str = ""
    server_url: str = ""

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self, name: str):
        return (self.workdir / f"{name}.log").open("a")

    def run(self, *arguments: str) -> str:
        result = subprocess.run(
            [str(self.python), *arguments],
            cwd=self.checkout,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(arguments)} failed:\n{result.stdout}{result.stderr}")
        return result.stdout

    def spawn(self, name: str) -> None:
        with self.log(name) as output:
            self.processes[name] = subprocess.Popen(
                self.commands[name],
                cwd=self.checkout,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def check_deaths(self) -> None:
        """A single-host process that exited is counted and started again (a restart policy);
        the embedded runner's own children are its supervisor's business (``restarts``)."""
        for name, process in list(self.processes.items()):
            if process.poll() is not None:
                self.deaths[name].append(process.returncode)
                print(f"soak: {name} died with exit code {process.returncode}", flush=True)
                self.spawn(name)

    def pids(self) -> dict[str, list[int]]:
        """Every process of the shape by role (a gunicorn master with its workers)."""
        roles: dict[str, list[int]] = {}
        if self.name == "embedded":
            runner = self.processes["nanomon"].pid
            roles["supervisor"] = [runner]
            state = supervisor_state(self.workdir / "data")
            for child, info in (state or {}).get("children", {}).items():
                if info.get("pid"):
                    roles[child] = process_tree(info["pid"])
        else:
            for name, process in self.processes.items():
                roles[name] = process_tree(process.pid)
        return roles

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def supervisor_state(data_dir: Path) -> dict | None:
    try:
        return json.loads((data_dir / "supervisor.json").read_text())
    except (OSError, ValueError):
        return None


def base_env(workdir: Path, smtp_port: int, port: int) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_", "CELERY_", "NANOMON_", "DJANGO_", "ALERT_", "VIRTUAL"))
    }
    env.update(
        {
            "PORT": str(port),
            "NANOMON_DATA_DIR": str(workdir / "data"),
            "DJANGO_SECRET_KEY": "soak-secret-key-not-for-production-0123456789",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_SUPERUSER_USERNAME": "admin",
            "DJANGO_SUPERUSER_PASSWORD": ADMIN_PASSWORD,
            "DJANGO_SUPERUSER_EMAIL": "admin@example.test",
            "ALERT_SMTP_HOST": "127.0.0.1",
            "ALERT_SMTP_PORT": str(smtp_port),
            "ALERT_SMTP_SECURITY": "none",
            "ALERT_SMTP_FROM": "nanomon@example.test",
            "ALERT_SMTP_TO": "ops@example.test",
            "ALERT_FAIL_COUNT": str(FAIL_COUNT),
            "ALERT_RECOVER_COUNT": "1",
            "ALERT_LINK_BASEURL": f"http://127.0.0.1:{port}",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def start_single_host(args, workdir: Path, smtp_port: int) -> Shape:
    from bench.db import DEFAULT_SERVER_URL, create_database, database_url

    port = free_port()
    env = base_env(workdir, smtp_port, port)
    name = f"nanomon_soak_{os.getpid()}"
    create_database(DEFAULT_SERVER_URL, name)
    broker = args.broker_url or os.environ.get("CELERY_BROKER_URL") or "redis://127.0.0.1:6379/15"
    env.update(
        {
            "DATABASE_URL": database_url(DEFAULT_SERVER_URL, name),
            "CELERY_BROKER_URL": broker,
            "NANOMON_BROKER_KEY_PREFIX": f"nanomon-soak-{os.getpid()}:",
        }
    )
    bin_dir = Path(args.python).parent
    shape = Shape("single-host", args.checkout, Path(args.python), workdir, port, env)
    shape.database_name, shape.server_url = name, DEFAULT_SERVER_URL
    # docs/deployment.md's "Running in production", command for command.
    shape.run("manage.py", "migrate")
    shape.run("manage.py", "collectstatic", "--noinput")
    shape.run("manage.py", "createsuperuser", "--noinput")
    shape.commands = {
        "web": [str(bin_dir / "gunicorn"), "nanomon.wsgi", "--bind", f"127.0.0.1:{port}",
                "--workers", "3"],
        "worker": [str(bin_dir / "celery"), "-A", "nanomon", "worker", "--loglevel", "INFO"],
        "beat": [str(bin_dir / "celery"), "-A", "nanomon", "beat", "--loglevel", "INFO"],
    }  # fmt: skip
    for process in shape.commands:
        shape.spawn(process)
    return shape


def start_embedded(args, workdir: Path, smtp_port: int) -> Shape:
    port = free_port()
    env = base_env(workdir, smtp_port, port)
    shape = Shape("embedded", args.checkout, args.checkout / ".venv/bin/python", workdir, port, env)
    shape.commands = {"nanomon": [str(args.checkout / "bin/nanomon"), "run"]}
    shape.spawn("nanomon")
    return shape


class Pinger:
    """A job reporting in: ``GET`` on a push monitor's URL every ``period`` seconds through the
    shape's web server, counting the answers (200, or what else came back)."""

    def __init__(self, url: str, period: float) -> None:
        self.url = url
        self.period = period
        self.answers: Counter[str] = Counter()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopped.wait(self.period):
            try:
                with urllib.request.urlopen(self.url, timeout=10) as response:
                    self.answers[str(response.status)] += 1
            except urllib.error.HTTPError as error:
                self.answers[str(error.code)] += 1
            except OSError as error:
                self.answers[type(error).__name__] += 1

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(15)


def api(shape: Shape, method: str, path: str, token: str, body: object = None) -> object:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        shape.base + path,
        data=data,
        method=method,
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read()
    return json.loads(text) if text else None


def wait_until_up(shape: Shape, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if shape.name == "embedded" and shape.processes["nanomon"].poll() is not None:
            raise RuntimeError(f"bin/nanomon run exited: see {shape.workdir / 'nanomon.log'}")
        try:
            with urllib.request.urlopen(shape.base + "/api/health", timeout=5) as response:
                if response.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(1)
    raise RuntimeError(f"{shape.name} did not answer /api/health within {timeout:.0f}s")


# --- Measures ------------------------------------------------------------------------------------


def rss_by_role(shape: Shape) -> dict[str, float]:
    rss = {}
    for role, pids in shape.pids().items():
        total = 0
        for pid in pids:
            stat = read_proc(pid)
            total += stat.rss_bytes if stat else 0
        rss[role] = round(total / MB, 1)
    return rss


def fetch_results(shape: Shape) -> list[tuple]:
    """(monitor name, interval seconds, scheduled_for, date, status) of every result (the
    soak's monitors all have intervals of whole seconds, ``"5s"``)."""
    sql = (
        "SELECT m.name, m.interval, r.scheduled_for, r.date, r.status "
        "FROM results_result r JOIN monitors_monitor m ON m.id = r.monitor_id "
        "ORDER BY m.name, r.scheduled_for"
    )
    if shape.name == "embedded":
        with sqlite3.connect(shape.workdir / "data" / "nanomon.sqlite3") as db:
            rows = db.execute(sql).fetchall()
        return [
            (name, int(interval[:-1]), _parse(scheduled), _parse(date), status)
            for name, interval, scheduled, date, status in rows
        ]
    import psycopg

    with psycopg.connect(shape.env["DATABASE_URL"]) as db:
        rows = db.execute(sql).fetchall()
    return [(name, int(interval[:-1]), *rest) for name, interval, *rest in rows]


def _parse(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def outages(statuses: list[int]) -> tuple[int, int]:
    """Down and up transitions by the alerting rule (FAIL_COUNT non-OK in a row; one OK)."""
    down = ups = streak = 0
    is_down = False
    for status in statuses:
        if status == 0:
            streak = 0
            if is_down:
                is_down, ups = False, ups + 1
        else:
            streak += 1
            if not is_down and streak >= FAIL_COUNT:
                is_down, down = True, down + 1
    return down, ups


def analyse(rows: list[tuple], since: datetime, until: datetime) -> dict:
    by_monitor: dict[str, list[tuple]] = defaultdict(list)
    for row in rows:
        by_monitor[row[0]].append(row)
    monitors, down_total, up_total = [], 0, 0
    for name, runs in sorted(by_monitor.items()):
        interval = runs[0][1]
        statuses = [status for *_, status in runs]
        down, up = outages(statuses)
        down_total, up_total = down_total + down, up_total + up
        slots = [scheduled for _, _, scheduled, _, _ in runs]
        duplicates = len(slots) - len(set(slots))
        window = sorted(date for _, _, _, date, _ in runs if since <= date <= until)
        edges = [since, *window, until]
        gap = max((b - a).total_seconds() for a, b in itertools.pairwise(edges))
        expected = int((until - since).total_seconds() // interval)
        monitors.append(
            {
                "name": name,
                "interval": interval,
                "runs": len(window),
                "expected": expected,
                "missed": max(0, expected - len(window)),
                "largestGap": round(gap, 2),
                "gapBound": 2 * interval + LEASE_GRACE_SECONDS,
                "duplicates": duplicates,
                "nonOk": sum(1 for status in statuses if status != 0),
            }
        )
    return {"monitors": monitors, "outages": down_total, "recoveries": up_total}


# --- Main ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", choices=("embedded", "single-host"), required=True)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--monitors", type=int, default=200)
    parser.add_argument("--checkout", type=Path, default=REPOSITORY)
    parser.add_argument("--python", default=sys.executable, help="single-host: the venv's python")
    parser.add_argument(
        "--broker-url", default=None, help="single-host: redis://… (default) or amqp://…"
    )
    parser.add_argument("--flap-seconds", type=float, default=30.0)
    parser.add_argument("--warm-up", type=float, default=None, help="seconds (default 10 %%, ≥60)")
    parser.add_argument("--gate", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--out-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    args.checkout = args.checkout.resolve()
    duration = args.minutes * 60
    warm_up = args.warm_up if args.warm_up is not None else max(60.0, duration * 0.1)

    from tests.support.smtp_server import LocalSmtpServer

    workdir = Path(tempfile.mkdtemp(prefix=f"nanomon-soak-{args.shape}-"))
    http_hosts = tuple(loopback_addresses(4))
    config = TargetConfig(http_addresses=http_hosts, tcp_addresses=http_hosts, dns=True)
    shape = None
    flapper = Flapper(args.flap_seconds)
    with TargetProcess(config) as endpoints, LocalSmtpServer() as smtp:
        try:
            started = time.monotonic()
            starter = start_embedded if args.shape == "embedded" else start_single_host
            shape = starter(args, workdir, smtp.port)
            wait_until_up(shape, timeout=600)
            print(f"soak: {shape.name} up after {time.monotonic() - started:.0f}s", flush=True)
            token = shape.run("manage.py", "drf_create_token", "admin").split()[2]
            definitions = monitor_definitions(args.monitors, endpoints, flapper.url)
            for definition in definitions:
                api(shape, "POST", "/api/monitors", token, definition)
            # A push monitor whose job pings every second through the web server: each ping
            # is a run; a missed deadline (no ping within 2s + 2s grace) would be a Failed one.
            push = api(shape, "POST", "/api/monitors", token, PUSH_MONITOR)
            pinger = Pinger(shape.base + urllib.parse.urlsplit(push["pushUrl"]).path, 1.0)
            print(f"soak: {len(definitions) + 1} monitors created; running {args.minutes:g} min")
            begin = time.monotonic()
            rss_start: dict[str, float] = {}
            since = until = None
            while time.monotonic() - begin < duration:
                time.sleep(1)
                shape.check_deaths()
                if not rss_start and time.monotonic() - begin >= warm_up:
                    rss_start, since = rss_by_role(shape), datetime.now(UTC)
                    print(f"soak: warm-up over; RSS MB {rss_start}", flush=True)
            until = datetime.now(UTC)
            rss_end = rss_by_role(shape)
            flapper.hold_up()
            time.sleep(SETTLE_SECONDS)  # the last outage recovers; its mails arrive
            shape.check_deaths()
            restarts = {
                name: info.get("restarts", 0)
                for name, info in (supervisor_state(workdir / "data") or {})
                .get("children", {})
                .items()
            }
            rows = fetch_results(shape)
            pinger.stop()  # after the settling too: a stopped job's missed deadlines are real
        finally:
            if shape:
                shape.stop()
                if shape.database_name:  # whatever happened, the shared servers are left clean
                    from bench.db import drop_database, forget_broker_keys

                    drop_database(shape.server_url, shape.database_name)
                    forget_broker_keys(shape.env)
            flapper.close()
        mails = list(smtp.mails)
    report = analyse(rows, since, until)
    down_mails = sum(
        1 for mail in mails if str(mail.message["Subject"]).startswith("NanoMon alert for:")
    )
    up_mails = sum(
        1 for mail in mails if str(mail.message["Subject"]).startswith("NanoMon recovered:")
    )
    deaths = {name: len(codes) for name, codes in shape.deaths.items()}
    growth = {
        role: round((rss_end.get(role, 0) - mb) / mb, 3) if mb else None
        for role, mb in rss_start.items()
    }
    worst = sorted(report["monitors"], key=lambda m: m["largestGap"] / m["interval"])[-5:]
    over = [m for m in report["monitors"] if m["largestGap"] > m["gapBound"]]
    print_table(
        f"{shape.name}: {args.minutes:g} min, {len(report['monitors'])} monitors, "
        f"measured over {(until - since).total_seconds():.0f}s after {warm_up:.0f}s warm-up",
        ["process", "deaths", "restarts", "RSS after warm-up MB", "RSS at end MB", "growth"],
        [
            [role, deaths.get(role, 0), restarts.get(role, 0), rss_start.get(role),
             rss_end.get(role), growth.get(role)]
            for role in sorted(set(rss_start) | set(rss_end) | set(deaths))
        ],
    )  # fmt: skip
    print_table(
        "largest gaps (the 5 worst by gap / interval)",
        ["monitor", "interval s", "largest gap s", "bound s", "runs", "missed", "duplicates"],
        [
            [m["name"], m["interval"], m["largestGap"], m["gapBound"], m["runs"], m["missed"],
             m["duplicates"]]
            for m in worst
        ],
    )  # fmt: skip
    runs = sum(m["runs"] for m in report["monitors"])
    expected = sum(m["expected"] for m in report["monitors"])
    missed = sum(m["missed"] for m in report["monitors"])
    duplicates = sum(m["duplicates"] for m in report["monitors"])
    print(
        f"runs {runs} of {expected} slots, missed {missed}, duplicate slots {duplicates}, "
        f"monitors over the gap bound {len(over)}"
    )
    print(
        f"outages {report['outages']} / down mails {down_mails}; "
        f"recoveries {report['recoveries']} / recovery mails {up_mails}"
    )
    failures = []
    if any(deaths.values()) or any(restarts.values()):
        failures.append(f"deaths {deaths}, restarts {restarts}")
    if over:
        failures.append(f"{len(over)} monitors over the gap bound")
    if duplicates:
        failures.append(f"{duplicates} duplicate slots")
    if (down_mails, up_mails) != (report["outages"], report["recoveries"]) or not report["outages"]:
        failures.append("alerts differ from outages (or no outage happened)")
    pings = dict(pinger.answers)
    push_runs = next(m for m in report["monitors"] if m["name"] == PUSH_MONITOR["name"])
    print(f"push pings answered {pings}; push runs not OK {push_runs['nonOk']}")
    if set(pings) != {"200"} or push_runs["nonOk"]:
        failures.append(f"push: answers {pings}, runs not OK {push_runs['nonOk']}")
    if any(g is not None and g > RSS_GROWTH_LIMIT for g in growth.values()):
        failures.append(f"RSS growth over {RSS_GROWTH_LIMIT:.0%}: {growth}")
    print("targets: " + ("all met" if not failures else "MISSED: " + "; ".join(failures)))
    write_json(
        f"soak-{shape.name}",
        {
            **run_metadata(),
            "shape": shape.name,
            "minutes": args.minutes,
            "warmUpSeconds": warm_up,
            "python": str(shape.python),
            "deaths": dict(shape.deaths),
            "restarts": restarts,
            "rssStartMB": rss_start,
            "rssEndMB": rss_end,
            "rssGrowth": growth,
            "runs": runs,
            "expectedSlots": expected,
            "missedSlots": missed,
            "duplicateSlots": duplicates,
            "outages": report["outages"],
            "recoveries": report["recoveries"],
            "downMails": down_mails,
            "recoveryMails": up_mails,
            "monitors": report["monitors"],
            "pushPings": pings,
            "failures": failures,
        },
        args.out_dir,
    )
    if failures:
        print(f"logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if args.gate and failures else 0


if __name__ == "__main__":
    sys.exit(main())
