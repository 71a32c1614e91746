"""A real Prometheus server (Debian package ``prometheus``) on a free loopback port, for tests
that query one or have one scrape a local target. Skip when ``PROMETHEUS`` is None.

    with running_prometheus(scrape_config("nanomon", "127.0.0.1:8000"), tmp_path) as server:
        answer = server.wait_for("up")   # the first non-empty answer, within 60 s
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from tests.support.http_servers import refused_port

PROMETHEUS = shutil.which("prometheus")
MISSING = "needs {} (Debian package 'prometheus': apt-get install -y prometheus)"


def scrape_config(job: str, target: str, *, extra: str = "") -> str:
    """A prometheus.yml scraping ``target`` (host:port) every second as ``job``; ``extra``
    is added to the job (indented YAML lines, e.g. ``metrics_path`` or ``authorization``)."""
    return (
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n"
        f"  - job_name: {job}\n"
        f"{extra}"
        f"    static_configs:\n      - targets: ['{target}']\n"
    )


@dataclass
class PrometheusServer:
    port: int
    log_path: Path
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text()[-chars:]

    def wait_for(self, query: str, *, seconds: float = 60) -> list | None:
        """The first non-empty result of instant ``query``, asked every 0.5 s until it comes,
        the server exits or ``seconds`` pass (then None)."""
        encoded = urllib.parse.urlencode({"query": query})
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                with urllib.request.urlopen(
                    f"{self.url}/api/v1/query?{encoded}", timeout=2
                ) as response:
                    body = json.load(response)
                if body["status"] == "success" and body["data"]["result"]:
                    return body["data"]["result"]
            except OSError:
                pass  # not listening yet
            time.sleep(0.5)
        return None


@contextmanager
def running_prometheus(config: str, directory: Path) -> Iterator[PrometheusServer]:
    """Prometheus with ``config`` (prometheus.yml text), its data and log in ``directory``;
    stopped (terminate, then kill after 15 s) on exit."""
    assert PROMETHEUS is not None, MISSING.format("prometheus")
    config_path = directory / "prometheus.yml"
    config_path.write_text(config)
    port = refused_port()
    log_path = directory / "prometheus.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config_path}",
                f"--storage.tsdb.path={directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield PrometheusServer(port=port, log_path=log_path, process=process)
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# --- A local exposition server -----------------------------------------------------------------

# Every kind of sample prom_scrape reads: gauge, counter, untyped, summary, histogram, label
# values with the text format's escapes, and a NaN.
EXPOSITION = """\
# HELP temp_celsius Temperature by room.
# TYPE temp_celsius gauge
temp_celsius{room="kitchen"} 21.5
temp_celsius{room="hall \\"north\\"",note="a\\\\b\\nc"} 19
# HELP requests_total Requests served.
# TYPE requests_total counter
requests_total{code="200",path="/"} 1027
requests_total{code="500",path="/"} 3
legacy_value 42
# TYPE latency_seconds summary
latency_seconds{quantile="0.5"} 0.2
latency_seconds_sum 12.5
latency_seconds_count 50
# TYPE size_bytes histogram
size_bytes_bucket{le="100"} 3
size_bytes_bucket{le="+Inf"} 5
size_bytes_sum 640
size_bytes_count 5
not_a_number NaN
"""

BROKEN_EXPOSITION = "temp_celsius 21.5\nbroken_metric{room= 1\n"


def build_exposition_app() -> web.Application:
    """``/metrics`` (``EXPOSITION``), ``/broken`` (a line that does not parse), ``/status/N``
    (an empty answer with status N)."""

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(text=EXPOSITION, content_type="text/plain", charset="utf-8")

    async def broken(request: web.Request) -> web.Response:
        return web.Response(text=BROKEN_EXPOSITION, content_type="text/plain")

    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="no metrics here")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/broken", broken)
    app.router.add_get("/status/{code}", status)
    return app
