"""The ``traceroute`` monitor type: the path to a host, hop by hop, and whether it changed.

Contract, plain data in and out (docs/traceroute.md has the prose):

* Target: a host name or an IP address (IPv4 or IPv6).
* Properties: ``hops`` (the highest TTL tried, 30, 1 to 64), ``timeout`` (the whole trace's
  deadline, 10s), ``probes`` per hop (3, 1 to 10), ``protocol`` ``icmp`` (echo requests, the
  default) or ``udp`` (datagrams to high ports, as traceroute(8), for paths that filter echo),
  ``network`` (ip: the first address of a name; ip4, ip6: the first of that family).
* Outputs: ``reached`` (1/0), ``hopCount`` (the TTL of the farthest hop that answered: the
  destination's when reached), ``route`` (the hops' addresses, ``*`` where a hop did not
  answer), ``routeChanged`` (1/0, below), ``hopRtt1`` … (the fastest answer of each hop that
  answered, ms), ``respTime`` (the value: the round trip to the destination when reached,
  else the time the trace took, ms).
* Failures: ``could not resolve host``, ``network unreachable`` (nothing could be sent), and a
  message saying raw sockets are needed (root or CAP_NET_RAW).

The route: one entry per TTL from 1 to ``hopCount``; each entry is the address that answered
that hop's first answered probe in sending order (not by arrival), or ``*``. A trace that
neither reached the target nor got an unreachable answer ends with one more ``*`` (silence
after the last answer). E.g.
``10.0.0.1 10.0.1.1 * 10.0.2.2``.

Remembering (``ProbeType.remembers``): the monitor keeps its last route. ``routeChanged`` is
1 when the new route differs from the remembered one, compared position by position (TTL by
TTL): a position where both traces got an answer and the addresses differ is a change, and so
is reaching the destination at another hop count than last time (a hop added or removed,
even a silent one); a ``*`` on either side matches anything, so a lost answer is no change.
The first trace (nothing remembered) is no change. As connvitals-monitor 3.0 does, the
``route`` output is kept only on the first trace and when the route changed; otherwise it is
left out of the run's outputs, so the results holding a ``route`` are the route's history.
When the route did not change, the remembered route is the new one with its ``*`` filled in
from the remembered one (and an unreached trace keeps the remembered rest of the path), so an
answer lost now does not hide a change at that hop next time.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Mapping

from lib.durations import format_seconds
from monitors import netpolicy
from monitors.probes.base import (
    MonitorTemplate,
    OutputSpec,
    ProbeFailure,
    ProbeResult,
    ProbeType,
    PropertySpec,
    describe_send_error,
    int_parser,
    parse_timeout,
)
from monitors.probes.ping import check_target as check_host
from monitors.probes.traceroute_trace import Trace, trace
from monitors.targets import is_ip_address

PROTOCOLS = ("icmp", "udp")
NETWORKS = {"ip": socket.AF_UNSPEC, "ip4": socket.AF_INET, "ip6": socket.AF_INET6}
NO_ANSWER = "*"

PROPERTIES = (
    PropertySpec(
        "hops",
        "The highest TTL tried (the longest path traced), 1 to 64.",
        default="30",
        parse=int_parser(1, 64),
    ),
    PropertySpec(
        "timeout",
        "Deadline of the whole trace, e.g. 10s: every hop's probes leave at once and the "
        "answers are awaited until then.",
        default="10s",
        parse=parse_timeout,
    ),
    PropertySpec("probes", "Probes sent per hop, 1 to 10.", default="3", parse=int_parser(1, 10)),
    PropertySpec(
        "protocol",
        "icmp (echo requests) or udp (datagrams to ports from 33434 up, as traceroute(8); "
        "for paths that filter ICMP echo).",
        default="icmp",
        choices=PROTOCOLS,
    ),
    PropertySpec(
        "network",
        "Address family to trace when a name has several addresses: ip (the first address "
        "the resolver returns), ip4 (the first IPv4 address) or ip6 (the first IPv6 address).",
        default="ip",
        choices=tuple(NETWORKS),
    ),
)

OUTPUTS = (
    OutputSpec(
        "respTime",
        "number",
        "Round trip to the destination when reached (the fastest of its answers), else the "
        "time the trace took, ms (the value).",
        unit="ms",
    ),
    OutputSpec("reached", "number", "1 when the destination answered, else 0."),
    OutputSpec(
        "hopCount",
        "number",
        "TTL of the farthest hop that answered: the destination's hop count when reached.",
    ),
    OutputSpec(
        "route",
        "string",
        "The hops' addresses in order, * where a hop did not answer. Kept only on the first "
        "trace and when the route changed.",
    ),
    OutputSpec(
        "routeChanged",
        "number",
        "1 when the route differs from the last one (an answering hop's address at some TTL, "
        "or the destination's hop count), else 0.",
    ),
    OutputSpec(
        "hopRtt1",
        "number",
        "Fastest answer of hop 1, ms; hopRtt2, hopRtt3, … the next hops (absent where a hop "
        "did not answer).",
        numbered=True,
        unit="ms",
    ),
)


def check_target(target: str) -> None:
    """Raise ``ValueError`` unless ``target`` is a host name or an IP address."""
    check_host(target)


def route_of(result: Trace) -> tuple[list[str], bool]:
    """(route entries, reached) of a trace; see the module docstring for the route's shape."""
    first: dict[int, str] = {}
    for index in sorted(result.answers):
        answer = result.answers[index]
        first.setdefault(answer.ttl, answer.address)
    end = result.end_ttl()
    answered = [ttl for ttl in first if end is None or ttl <= end]
    last = max(answered, default=0)
    route = [first.get(ttl, NO_ANSWER) for ttl in range(1, last + 1)]
    reached = end is not None and any(a.reached for a in result.answers.values() if a.ttl == end)
    if end is None:
        route.append(NO_ANSWER)
    return route, reached


def route_changed(old: list[str], old_reached: bool, new: list[str], new_reached: bool) -> bool:
    """Whether ``new`` differs from ``old``: some TTL where both answered with different
    addresses, or the destination reached at another hop count."""
    for before, now in zip(old, new, strict=False):
        if NO_ANSWER not in (before, now) and before != now:
            return True
    return old_reached and new_reached and len(old) != len(new)


def remembered_route(
    old: list[str], old_reached: bool, new: list[str], new_reached: bool
) -> tuple[list[str], bool]:
    """What to remember after an unchanged trace: ``new`` with its gaps filled from ``old``;
    an unreached ``new`` shorter than ``old`` keeps ``old``'s rest (and its ``reached``)."""
    merged = [
        now if now != NO_ANSWER or index >= len(old) else old[index]
        for index, now in enumerate(new)
    ]
    if not new_reached and len(old) > len(new):
        return merged + old[len(new) :], old_reached
    return merged, new_reached


async def resolve(target: str, network: str, timeout: float) -> str:
    """The address to trace: the literal, or the first address of the name (of the family
    ``network`` asks for) that the probe network policy allows (``monitors.netpolicy``;
    PolicyDenied when it allows none)."""
    policy = netpolicy.current()
    policy.check_name(target)
    if is_ip_address(target):
        family = socket.AF_INET6 if ":" in target else socket.AF_INET
        if NETWORKS[network] not in (socket.AF_UNSPEC, family):
            wanted = "IPv4" if network == "ip4" else "IPv6"
            raise ProbeFailure(f"{target} is not an {wanted} address (network={network})")
        policy.check(target, target)
        return target
    loop = asyncio.get_running_loop()
    try:
        found = await asyncio.wait_for(
            loop.getaddrinfo(target, None, family=NETWORKS[network], type=socket.SOCK_DGRAM),
            timeout,
        )
    except socket.gaierror:
        raise ProbeFailure("could not resolve host") from None
    except TimeoutError:
        raise ProbeFailure(f"timed out after {format_seconds(timeout)} resolving host") from None
    addresses = [entry[4][0] for entry in found if entry[0] in (socket.AF_INET, socket.AF_INET6)]
    allowed = policy.permitted(target, addresses, str)
    if not allowed:
        raise ProbeFailure("could not resolve host")
    return allowed[0]


async def probe(
    target: str, properties: Mapping[str, object], memory: Mapping[str, object] | None = None
) -> ProbeResult:
    """Trace the path to ``target``; compare it with the remembered route (``memory``)."""
    timeout = float(properties["timeout"])
    loop = asyncio.get_running_loop()
    ends_at = loop.time() + timeout
    try:
        address = await resolve(target, str(properties["network"]), timeout)
    except netpolicy.PolicyDenied as error:
        raise ProbeFailure(str(error)) from None
    hops, probes = int(properties["hops"]), int(properties["probes"])
    result = await trace(
        address, hops=hops, probes=probes, protocol=str(properties["protocol"]), ends_at=ends_at
    )
    if len(result.send_errors) == hops * probes:
        raise ProbeFailure(describe_send_error(result.send_errors[0], "probes"))
    route, reached = route_of(result)
    memory = memory or {}
    old = [str(entry) for entry in memory.get("route") or []]
    old_reached = bool(memory.get("reached"))
    changed = bool(old) and route_changed(old, old_reached, route, reached)
    outputs: dict[str, float | str] = {
        "reached": int(reached),
        # An unreached trace that ended in silence has one "*" after its farthest answer.
        "hopCount": len(route) if result.end_ttl() is not None else len(route) - 1,
        "routeChanged": int(changed),
    }
    if changed or not old:
        outputs["route"] = " ".join(route)
        remember = {"route": route, "reached": reached}
    else:
        kept, kept_reached = remembered_route(old, old_reached, route, reached)
        remember = {"route": kept, "reached": kept_reached}
    for ttl in range(1, len(route) + 1):
        rtts = [a.rtt_ms for a in result.answers.values() if a.ttl == ttl]
        if rtts:
            outputs[f"hopRtt{ttl}"] = min(rtts)
    end = result.end_ttl()
    if reached and end is not None:
        outputs["respTime"] = outputs[f"hopRtt{end}"]
    else:
        outputs["respTime"] = result.elapsed_ms
    return ProbeResult(value=float(outputs["respTime"]), outputs=outputs, memory=remember)


PROBE = ProbeType(
    kind="traceroute",
    label="Traceroute (path to a host)",
    short_label="Traceroute",
    target_help="Host name or IP address to trace the path to, e.g. example.net, 192.0.2.1 or "
    "2001:db8::1",
    properties=PROPERTIES,
    outputs=OUTPUTS,
    check_target=check_target,
    probe=probe,
    template=MonitorTemplate(
        title="Watch the route to a host",
        name="Route to the upstream",
        target="192.0.2.1",
        interval="5m",
        rule="reached == 1 && routeChanged == 0",
        properties={},
        rule_examples=("routeChanged == 0", "reached == 1 && hopCount <= 12", "hopRtt1 < 5"),
    ),
    target_shape="a host name or an IP address, without scheme or port",
    remembers=True,
)
