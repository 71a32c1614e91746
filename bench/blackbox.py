"""Prometheus' blackbox_exporter as a peer: start it on loopback, probe through ``/probe``.

The Debian package ``prometheus-blackbox-exporter`` provides the binary; the benchmarks never
install it (``apt-get install -y prometheus-blackbox-exporter``; ``bin/nanomon test`` does,
as root). ``BlackboxExporter`` runs a private instance with its own configuration on a free
loopback port and stops it on exit; nothing else on the machine is touched.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import urllib.request

from bench.common import ChildServer

BINARY_NAMES = ("prometheus-blackbox-exporter", "blackbox_exporter")
INSTALL_HINT = "apt-get install -y prometheus-blackbox-exporter"

# One module per probe type, equivalent to what the engine benchmark asks of our probes.
CONFIG_TEMPLATE = """\
modules:
  http_2xx:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
  tcp_connect:
    prober: tcp
    timeout: 5s
    tcp:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
  icmp:
    prober: icmp
    timeout: 5s
    icmp:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
  dns_a:
    prober: dns
    timeout: 5s
    dns:
      query_name: {dns_name}
      query_type: A
      transport_protocol: udp
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
"""

MODULES = {"http": "http_2xx", "tcp": "tcp_connect", "ping": "icmp", "dns": "dns_a"}

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$", re.MULTILINE)


def find_binary() -> str | None:
    """The exporter's path, or None when it is not installed."""
    for name in BINARY_NAMES:
        if path := shutil.which(name):
            return path
    return None


def binary_version(binary: str) -> str:
    output = subprocess.run(
        [binary, "--version"], capture_output=True, text=True, timeout=10, check=False
    )
    first = (output.stdout or output.stderr).splitlines()
    return first[0].strip() if first else "unknown"


def parse_probe(text: str, kind: str) -> tuple[bool, float | None]:
    """(success, latency in ms) from one ``/probe`` answer, the latency the exporter measured
    for what our probe of the same type reports:

    * http: the sum of ``probe_http_duration_seconds`` phases (resolve, connect, tls,
      processing, transfer), i.e. request start to body read, like our ``respTime``;
    * tcp: ``probe_duration_seconds`` (the exporter has no finer figure for tcp);
    * ping: ``probe_icmp_duration_seconds{phase="rtt"}``;
    * dns: the sum of ``probe_dns_duration_seconds`` phases when present, else
      ``probe_duration_seconds``.
    """
    samples: dict[str, list[tuple[str, float]]] = {}
    for name, labels, value in _SAMPLE.findall(text):
        try:
            samples.setdefault(name, []).append((labels or "", float(value)))
        except ValueError:
            continue
    success = any(value == 1.0 for _, value in samples.get("probe_success", []))
    seconds: float | None = None
    if kind == "http" and "probe_http_duration_seconds" in samples:
        seconds = sum(value for _, value in samples["probe_http_duration_seconds"])
    elif kind == "ping":
        rtt = [v for labels, v in samples.get("probe_icmp_duration_seconds", []) if "rtt" in labels]
        seconds = rtt[0] if rtt else None
    elif kind == "dns" and "probe_dns_duration_seconds" in samples:
        seconds = sum(value for _, value in samples["probe_dns_duration_seconds"])
    if seconds is None and samples.get("probe_duration_seconds"):
        seconds = samples["probe_duration_seconds"][0][1]
    return success, None if seconds is None else seconds * 1000.0


class BlackboxExporter(ChildServer):
    """A private blackbox_exporter on ``127.0.0.1:<free port>``; ``url`` is its base URL."""

    def __init__(self, binary: str, *, dns_name: str) -> None:
        super().__init__(prefix="nanomon-bench-blackbox-")
        self.binary = binary
        self.config_path = self.folder / "blackbox.yml"
        self.config_path.write_text(CONFIG_TEMPLATE.format(dns_name=dns_name))
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> BlackboxExporter:
        self.process = subprocess.Popen(
            [
                self.binary,
                f"--config.file={self.config_path}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=error",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"blackbox_exporter exited: {self.process.stderr.read()}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/healthy", timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        self.__exit__(None, None, None)
        raise RuntimeError("blackbox_exporter did not become healthy within 20s")
