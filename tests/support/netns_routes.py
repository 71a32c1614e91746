"""A real routed path for traceroute tests: this host → r1 → r2 → target, in namespaces.

``routed_path()`` creates four namespaces (routers ``r1``, ``r2``, ``r3`` with
``ip_forward=1``, and the target host ``t``) chained by veth pairs, with unique names for this
run, and removes everything on exit, whatever happened. The addresses come from a /26 of
10.232.0.0/16 that no interface of this machine uses (netns.py uses 10.231.0.0/16), split
into /30 links::

    host .1 ── .2 r1 .5 ── .6 r2 .9 ── .10 t        (the first path)
                  r1 .13 ── .14 r3 .17 ── .18 t     (``reroute_via_r3``)
                  r1 .21 ── .22 t                   (``shorten``: r1 straight to t)

The target's address (``target``, .33) sits on t's loopback, so every path ends at the same
address. This machine gains only /32 routes to ``target`` and ``silent_target`` (.34) via
r1, which vanish with the veth. ``silent_target`` is routed to r2, which drops it without a
word (a ``blackhole`` route): traces to it get r1 and r2, then silence.
``unreachable_target`` (.35) is routed to r2 too, which answers "host unreachable" for it.
``silence("r2")`` makes r2 a hop that forwards but never answers.

ICMP error rate limiting (``icmp_ratelimit``: 1 per second after a burst of 6 per peer;
``icmp_msgs_per_sec``: 1000 per second after a burst of 50) is lifted in the routers and the
target, so traces run back to back get every answer. One limit is not per namespace: a
router's "unreachable" answers (``net.ipv4.route.error_cost``, global) come 5 at once, then 1
per second, so a test tracing ``unreachable_target`` more than once needs a fresh path.
Traffic never leaves these namespaces: they have no other links.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import ipaddress
import random
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field

_SPACE = ipaddress.ip_network("10.232.0.0/16")
ROUTERS = ("r1", "r2", "r3")
# (link name, one end's namespace or None for this host, its offset; other end, offset)
_LINKS = (
    ("l0", None, 1, "r1", 2),
    ("l1", "r1", 5, "r2", 6),
    ("l2", "r2", 9, "t", 10),
    ("l3", "r1", 13, "r3", 14),
    ("l4", "r3", 17, "t", 18),
    ("l5", "r1", 21, "t", 22),
)


def _ip(*arguments: str) -> None:
    subprocess.run(["ip", *arguments], check=True, capture_output=True, text=True)


@dataclass
class RoutedPath:
    """The namespaces and addresses of one path; methods change the path in place.

    Addresses are IPv4 (``version`` 4) or IPv6 (``ipv6()``: the same path and namespaces,
    IPv6 addresses): offset ``n`` of the /26 is ``fd00:232:<block>:<n // 4>::<n % 4>``."""

    token: str
    block: ipaddress.IPv4Network
    namespaces: dict[str, str] = field(default_factory=dict)
    version: int = 4

    def ipv6(self) -> RoutedPath:
        return dataclasses.replace(self, version=6)

    def address(self, offset: int, version: int | None = None) -> str:
        if (version or self.version) == 4:
            return str(self.block[offset])
        index = (int(self.block.network_address) - int(_SPACE.network_address)) >> 6
        return str(ipaddress.IPv6Address(f"fd00:232:{index:x}:{offset // 4:x}::{offset % 4:x}"))

    @property
    def target(self) -> str:
        return self.address(33)

    @property
    def silent_target(self) -> str:
        return self.address(34)

    @property
    def unreachable_target(self) -> str:
        return self.address(35)

    def route(self, node: str, *arguments: str) -> None:
        _ip("-n", self.namespaces[node], "route", *arguments)

    def _route_target(self, via: int) -> None:
        """Both families: r1 sends the target's traffic to the node at offset ``via``."""
        for version, length in ((4, 32), (6, 128)):
            self.route(
                "r1", "replace", f"{self.address(33, version)}/{length}",
                "via", self.address(via, version),
            )  # fmt: skip

    def first_path(self) -> list[str]:
        """The addresses answering on the first path: r1, r2, then the target."""
        return [self.address(2), self.address(6), self.target]

    def reroute_via_r3(self) -> list[str]:
        """r1 sends the target's traffic through r3 instead of r2; the new route."""
        self._route_target(14)
        return [self.address(2), self.address(14), self.target]

    def shorten(self) -> list[str]:
        """r1 sends the target's traffic straight to t (one hop less); the new route."""
        self._route_target(22)
        return [self.address(2), self.target]

    def silence(self, node: str) -> None:
        """The router still forwards but never answers (its own ICMP is dropped: the policy
        rule matches packets it originates, ``iif lo``), as a router that hides from traces."""
        for family, protocol in (("-4", "icmp"), ("-6", "ipv6-icmp")):
            _ip(family, "-n", self.namespaces[node], "rule", "add", "pref", "10",
                "iif", "lo", "ipproto", protocol, "blackhole")  # fmt: skip

    def execute(self, node: str, *command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", self.namespaces[node], *command],
            check=True,
            capture_output=True,
            text=True,
        )


def _free_block() -> ipaddress.IPv4Network:
    in_use = subprocess.run(
        ["ip", "-4", "-o", "addr", "show"], check=True, capture_output=True, text=True
    ).stdout
    blocks = list(_SPACE.subnets(new_prefix=26))
    for block in random.sample(blocks, 64):
        if str(block[1]) + "/" not in in_use:
            return block
    raise RuntimeError("no free /26 in 10.232.0.0/16")


@contextlib.contextmanager
def routed_path() -> Iterator[RoutedPath]:
    """A fresh routed path (see the module docstring); everything is removed on exit."""
    token = secrets.token_hex(3)
    path = RoutedPath(token=token, block=_free_block())
    host_link = f"nt{token}l0a"
    try:
        for node in (*ROUTERS, "t"):
            name = f"nanomon-tr-{token}-{node}"
            _ip("netns", "add", name)
            path.namespaces[node] = name
            _ip("-n", name, "link", "set", "lo", "up")
            sysctls = [
                "net.ipv4.icmp_ratelimit=0",
                "net.ipv4.icmp_msgs_per_sec=100000",
                "net.ipv4.icmp_msgs_burst=10000",
                "net.ipv6.icmp.ratelimit=0",
                # Link-local addresses usable at once, not after duplicate detection (~2 s):
                # neighbour discovery needs them.
                "net.ipv6.conf.default.accept_dad=0",
                "net.ipv6.conf.all.accept_dad=0",
            ]
            if node != "t":
                sysctls += ["net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"]
            path.execute(node, "sysctl", "-q", "-w", *sysctls)
        for link, one, one_offset, other, other_offset in _LINKS:
            a, b = f"nt{token}{link}a", f"nt{token}{link}b"
            _ip("link", "add", a, "type", "veth", "peer", "name", b)
            for end, node, offset in ((a, one, one_offset), (b, other, other_offset)):
                prefix = ("-n", path.namespaces[node]) if node else ()
                if node:
                    _ip("link", "set", end, "netns", path.namespaces[node])
                else:
                    subprocess.run(["sysctl", "-q", "-w", f"net.ipv6.conf.{end}.accept_dad=0"],
                                   check=True, capture_output=True)  # fmt: skip
                _ip(*prefix, "addr", "add", f"{path.address(offset)}/30", "dev", end)
                # nodad: the address works at once instead of after duplicate detection.
                _ip(*prefix, "-6", "addr", "add", f"{path.address(offset, 6)}/64", "dev", end,
                    "nodad")  # fmt: skip
                _ip(*prefix, "link", "set", end, "up")
        for version, length in ((4, 32), (6, 128)):
            at = functools.partial(path.address, version=version)
            _ip("-n", path.namespaces["t"], "addr", "add", f"{at(33)}/{length}", "dev", "lo")
            for node, gateway in (("r1", 1), ("r2", 5), ("r3", 13), ("t", 9)):
                _ip("-n", path.namespaces[node], f"-{version}", "route", "add", "default",
                    "via", at(gateway))  # fmt: skip
            for offset in (33, 34, 35):  # target, silent_target, unreachable_target
                _ip(f"-{version}", "route", "add", f"{at(offset)}/{length}", "via", at(2))
                path.route("r1", "add", f"{at(offset)}/{length}", "via", at(6))
            path.route("r2", "add", f"{at(33)}/{length}", "via", at(10))
            path.route("r3", "add", f"{at(33)}/{length}", "via", at(18))
            path.route("r2", "add", "blackhole", f"{at(34)}/{length}")
            path.route("r2", "add", "unreachable", f"{at(35)}/{length}")
        yield path
    finally:
        subprocess.run(["ip", "link", "del", host_link], capture_output=True, check=False)
        for name in path.namespaces.values():
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
