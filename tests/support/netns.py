"""Network namespaces for probe tests: a real host on the other end of a veth pair.

``namespace_host()`` creates a namespace and a veth pair with unique names for this run (so
parallel runs never clash), gives both ends an IPv4 address in 10.231.0.0/16 and an IPv6
address in fd00:231::/32, and removes everything on exit, whatever happened. Traffic only ever
goes to that namespace: it has no other route, and this machine gains only routes over the
veth, which disappear with it.

What a test can ask of the namespace host (``NamespaceHost``):

* ``drop_tcp_syn(port)``: SYNs to that port vanish silently (a filtered port). Done with a
  policy-routing ``blackhole`` rule inside the namespace, because this kernel has nftables but
  the machine has neither ``nft`` nor ``iptables``.
* ``ignore_echo_requests()``: the kernel stops answering pings (100 % loss).
* ``echo_responder(delay=…, drop_every=…)``: pings are answered by a userspace responder
  after ``delay`` seconds, dropping every n-th request by ICMP sequence number. This stands in
  for ``tc netem``, which this kernel lacks (``CONFIG_NET_SCH_NETEM`` is off), and makes loss
  deterministic: ``drop_every=2`` drops exactly the odd sequence numbers.
* ``unreachable_address()``: an extra address routed into the namespace, which answers it with
  ICMP "host unreachable".
* ``run_python(code, …)``: run Python inside the namespace (only loopback and the veth exist
  there, so a name lookup cannot leave the machine), optionally with its own resolv.conf and
  without CAP_NET_RAW.

Everything needs root; ``skip_reason()`` says why namespaces cannot be used when they cannot,
and tests mark themselves ``@pytest.mark.netns``.
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import ipaddress
import itertools
import os
import random
import secrets
import select
import shutil
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
_IPV4_SPACE = ipaddress.ip_network("10.231.0.0/16")


@functools.cache
def skip_reason() -> str | None:
    """None when this process can create network namespaces, else why not."""
    if sys.platform != "linux":
        return "network namespaces need Linux"
    if os.geteuid() != 0:
        return "network namespaces need root (run the tests as root to include them)"
    if shutil.which("ip") is None:
        return "the 'ip' command (iproute2) is not installed"
    probe_name = f"nanomon-check-{secrets.token_hex(4)}"
    created = subprocess.run(["ip", "netns", "add", probe_name], capture_output=True, check=False)
    if created.returncode != 0:
        return f"cannot create a network namespace: {created.stderr.decode().strip()}"
    subprocess.run(["ip", "netns", "del", probe_name], capture_output=True, check=False)
    return None


def _ip(*arguments: str) -> None:
    subprocess.run(["ip", *arguments], check=True, capture_output=True, text=True)


@dataclass
class NamespaceHost:
    """The far end of the veth pair. ``ipv4``/``ipv6`` are its addresses, reachable from here."""

    namespace: str
    ipv4: str
    ipv6: str
    local_ipv4: str
    local_ipv6: str
    _block: ipaddress.IPv4Network

    def execute(self, *command: str, **options: object) -> subprocess.CompletedProcess[str]:
        """Run ``command`` inside the namespace; raises on a non-zero exit."""
        return subprocess.run(
            ["ip", "netns", "exec", self.namespace, *command],
            check=True,
            capture_output=True,
            text=True,
            **options,
        )

    def sysctl(self, name: str, value: str) -> None:
        self.execute("sysctl", "-q", "-w", f"{name}={value}")

    def drop_tcp_syn(self, port: int) -> None:
        """Silently drop TCP packets to ``port`` (both families): connects time out.

        The ``local`` table rule normally comes first (priority 0); it is moved behind the
        blackhole rule, since locally addressed packets would never reach it otherwise.
        """
        for family in ("-4", "-6"):
            rule = (family, "-n", self.namespace, "rule")
            _ip(*rule, "add", "pref", "10", "ipproto", "tcp", "dport", str(port), "blackhole")
            with contextlib.suppress(subprocess.CalledProcessError):  # done for an earlier port
                _ip(*rule, "add", "pref", "100", "lookup", "local")
                _ip(*rule, "del", "pref", "0")

    def ignore_echo_requests(self) -> None:
        """The namespace's kernel stops answering ICMP echo (IPv4 and IPv6)."""
        self.sysctl("net.ipv4.icmp_echo_ignore_all", "1")
        self.sysctl("net.ipv6.icmp.echo_ignore_all", "1")

    def unreachable_address(self) -> str:
        """An IPv4 address routed to the namespace, which answers "host unreachable" for it."""
        address = str(self._block[5])
        self.sysctl("net.ipv4.ip_forward", "1")
        _ip("-n", self.namespace, "route", "add", "unreachable", f"{address}/32")
        _ip("route", "add", f"{address}/32", "via", self.ipv4)
        return address

    @contextlib.contextmanager
    def echo_responder(self, *, delay: float = 0.0, drop_every: int = 0) -> Iterator[None]:
        """Answer pings from userspace after ``delay`` s, dropping every ``drop_every``-th."""
        self.ignore_echo_requests()
        responder = [sys.executable, "-m", __name__, "echo-responder", str(delay), str(drop_every)]
        process = subprocess.Popen(
            ["ip", "netns", "exec", self.namespace, *responder],
            cwd=REPOSITORY,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            if process.stdout is None or process.stdout.readline().strip() != "ready":
                raise RuntimeError("the echo responder did not start")
            yield
        finally:
            process.terminate()
            process.wait(timeout=5)

    def run_python(
        self,
        code: str,
        *,
        resolv_conf: str | None = None,
        without_net_raw: bool = False,
        timeout: float = 30,
    ) -> str:
        """Run ``code`` with this repository's interpreter inside the namespace; its stdout.

        ``resolv_conf`` replaces /etc/resolv.conf for that process (``ip netns exec`` mounts
        /etc/netns/<namespace>/resolv.conf over it). ``without_net_raw`` drops CAP_NET_RAW
        (from the inheritable and bounding sets, so root's exec cannot regain it).
        """
        if resolv_conf is not None:
            directory = Path("/etc/netns") / self.namespace
            directory.mkdir(parents=True, exist_ok=True)
            (directory / "resolv.conf").write_text(resolv_conf)
        command: list[str] = [sys.executable, "-c", code]
        if without_net_raw:
            command = ["setpriv", "--inh-caps=-net_raw", "--bounding-set=-net_raw", *command]
        return self.execute(*command, cwd=REPOSITORY, timeout=timeout).stdout


def _free_block() -> ipaddress.IPv4Network:
    """A /29 of 10.231.0.0/16 that no interface of this machine uses yet."""
    in_use = subprocess.run(
        ["ip", "-4", "-o", "addr", "show"], check=True, capture_output=True, text=True
    ).stdout
    blocks = list(_IPV4_SPACE.subnets(new_prefix=29))
    for block in random.sample(blocks, 64):
        if not any(str(address) in in_use for address in block):
            return block
    raise RuntimeError("no free /29 in 10.231.0.0/16")


@contextlib.contextmanager
def namespace_host() -> Iterator[NamespaceHost]:
    """A fresh namespace host over a veth pair; everything is removed on exit."""
    token = secrets.token_hex(3)
    namespace = f"nanomon-test-{token}"
    local_link, remote_link = f"nm{token}h", f"nm{token}n"
    block = _free_block()
    index = (int(block.network_address) - int(_IPV4_SPACE.network_address)) // block.num_addresses
    ipv6_prefix = f"fd00:231:0:{index:x}"
    host = NamespaceHost(
        namespace=namespace,
        ipv4=str(block[2]),
        ipv6=f"{ipv6_prefix}::2",
        local_ipv4=str(block[1]),
        local_ipv6=f"{ipv6_prefix}::1",
        _block=block,
    )
    _ip("netns", "add", namespace)
    try:
        _ip("link", "add", local_link, "type", "veth", "peer", "name", remote_link)
        _ip("link", "set", remote_link, "netns", namespace)
        _ip("addr", "add", f"{host.local_ipv4}/30", "dev", local_link)
        # nodad: the addresses work at once instead of after duplicate detection (~2 s).
        _ip("-6", "addr", "add", f"{host.local_ipv6}/64", "dev", local_link, "nodad")
        _ip("link", "set", local_link, "up")
        _ip("-n", namespace, "addr", "add", f"{host.ipv4}/30", "dev", remote_link)
        _ip("-n", namespace, "-6", "addr", "add", f"{host.ipv6}/64", "dev", remote_link, "nodad")
        _ip("-n", namespace, "link", "set", remote_link, "up")
        _ip("-n", namespace, "link", "set", "lo", "up")
        yield host
    finally:
        subprocess.run(["ip", "link", "del", local_link], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True, check=False)
        shutil.rmtree(Path("/etc/netns") / namespace, ignore_errors=True)
        with contextlib.suppress(OSError):  # only when empty: other namespaces may use it
            Path("/etc/netns").rmdir()


# --- The userspace echo responder (runs inside the namespace, see echo_responder) -------------


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def serve_echo(delay: float, drop_every: int) -> None:
    """Answer ICMP echo requests (IPv4 and IPv6) after ``delay`` seconds, forever."""
    ipv4 = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    ipv6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    print("ready", flush=True)
    due: list[tuple[float, int, socket.socket, bytes, Sequence[object]]] = []
    order = itertools.count()  # tie-breaker, so the heap never compares sockets
    while True:
        wait = max(0.0, due[0][0] - time.monotonic()) if due else None
        readable, _, _ = select.select([ipv4, ipv6], [], [], wait)
        for sock in readable:
            packet, source = sock.recvfrom(70000)
            if sock is ipv4:
                message, request_type, reply_type = packet[(packet[0] & 0x0F) * 4 :], 8, 0
            else:
                message, request_type, reply_type = packet, 128, 129
            if len(message) < 8 or message[0] != request_type:
                continue
            (sequence,) = struct.unpack("!H", message[6:8])
            if drop_every and sequence % drop_every == drop_every - 1:
                continue
            reply = bytes([reply_type, 0, 0, 0]) + message[4:]
            if sock is ipv4:  # the kernel computes ICMPv6 checksums itself
                reply = reply[:2] + struct.pack("!H", _checksum(reply)) + reply[4:]
            heapq.heappush(due, (time.monotonic() + delay, next(order), sock, reply, source))
        while due and due[0][0] <= time.monotonic():
            _, _, sock, reply, source = heapq.heappop(due)
            sock.sendto(reply, source)


if __name__ == "__main__":
    if sys.argv[1:2] == ["echo-responder"]:
        serve_echo(float(sys.argv[2]), int(sys.argv[3]))
