"""The ``ping`` monitor type: ICMP echo requests to a host's addresses, on a fixed schedule.

Contract (``docs/contract.md`` §2, ping row), plain data in and out:

* Target: a host name or an IPv4/IPv6 address (``::1``, no brackets).
* Properties (declared in ``PROPERTIES``): ``timeout`` (1s), ``count`` (3), ``interval``
  (150ms), ``size`` (56), ``network`` (ip).
* Outputs (declared in ``OUTPUTS``): ``minRtt``, ``avgRtt`` (also the value), ``maxRtt`` and
  ``jitter`` in ms, ``packetsRecv``, ``packetLoss`` (percent of ``count``) and ``ipAddress``,
  all of the best address (below); ``addressCount`` and ``answeringCount``.
* Expected failures raise ``ProbeFailure``: ``no reply from host`` (100 % loss on every
  address: Failed, never OK), ``could not resolve host``, ``network unreachable``, ``host
  unreachable``, and a message telling the operator how to allow ICMP sockets when the process
  may open none.

Timing, and the deadline the engine enforces:

* Requests leave every ``interval`` whatever happens to the replies (as ``ping -i``), and each
  one waits at most ``timeout`` for its reply (as ``ping -W``): a reply later than that counts
  as lost. So the whole probe takes at most ``(count - 1) × interval + timeout``, which is what
  ``PROBE.deadline()`` declares (``total_seconds``), and the engine's cancel-at
  ``deadline + 0.5s`` never cuts a run short. With the defaults that is 1.3s.
  (NanoMon's pro-bing ``Timeout`` stopped the whole run instead, so a long ``count`` silently
  sent fewer packets than asked; here every requested packet is sent and judged.)
* Resolving a host name comes out of the same budget: it may take up to ``timeout``, and the
  time it takes shortens the wait of the last replies, never the schedule.
* The probe returns as soon as every request has its reply.

What is pinged when a name has several addresses (gosrvmon's rule): EVERY address of the
families ``network`` asks for (``ip`` both, ``ip4`` the IPv4 ones, ``ip6`` the IPv6 ones) that
the probe network policy allows (``monitors.netpolicy``; when it allows none the run fails with
its reason), at most ``MAX_ADDRESSES`` of them in the resolver's order. They are pinged
concurrently, each on the schedule above and within the one deadline, so several addresses
take no longer than one. The host is up when ANY address answers: ``addressCount`` says how
many were pinged, ``answeringCount`` how many answered at least once, and the other outputs
(and the value) are those of the best address, the answering one with the lowest ``avgRtt``
(the first in the resolver's order on a tie), whose address is ``ipAddress``. So
``answeringCount == addressCount`` is the rule for "every address answers". An address literal
is the only address; one of the other family than ``network`` asks for fails, as it would in
Go. ``both`` (as http's and tcp's, ``monitors.probes.families``): the IPv4 addresses and the
IPv6 addresses are pinged at once as ``ip4`` and ``ip6`` would, and BOTH families must answer:
one result with the slower family's outputs plus ``avgRtt4``, ``avgRtt6``, ``packetLoss4``,
``packetLoss6``, ``ipAddress4``, ``ipAddress6``, or Failed naming the family that did not
(``IPv6: no reply from host``).

Sockets and concurrency. icmplib opens the sockets (raw when the process may, that is root or
CAP_NET_RAW; else the kernel's unprivileged ICMP datagram sockets, allowed by
``net.ipv4.ping_group_range``), but the send/receive loop is ours rather than
``icmplib.async_ping``, for two reasons measured against many concurrent probes:

1. ``async_ping`` sends, waits for that reply, sleeps, sends the next; a lost packet delays the
   rest by a whole ``timeout``, so its worst case is ``count × timeout + …``.
2. It opens a raw socket per call, and the kernel copies every incoming echo reply to every
   open raw ICMP socket: N concurrent pings parse N² packets, and receive buffers overflowing
   under that load look like packet loss.

So all pings on one event loop share ONE socket per address family (``EchoChannel`` in
``monitors.probes.ping_channel``, opened by the first ping and closed by the last), read by
one reader callback. Each request carries a unique 8-byte token at the start of its payload,
and replies are matched by that token alone: concurrent pings to the same host (or another
process pinging it, whose replies a raw socket also sees) can never take each other's
replies, and it works unchanged for datagram sockets, where the kernel rewrites the ICMP
identifier. Each probe still uses its own identifier (``ping_channel._identifiers``), as
ping(8) does, so middleboxes see separate flows. On raw sockets a kernel filter passes echo
replies only, and the receive time is the kernel's timestamp of the packet (``SO_TIMESTAMPNS``,
Linux), so a busy event loop does not inflate the RTTs.
"""

from __future__ import annotations

import asyncio
import socket
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from lib.durations import format_seconds, parse_duration
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
from monitors.probes.families import (
    check_target_network,
    literal_problem,
    over_both,
    per_family_outputs,
)
from monitors.probes.ping_channel import MAX_PAYLOAD_BYTES, MIN_PAYLOAD_BYTES, use_channel
from monitors.targets import is_host_name, is_ip_address

NETWORKS = ("ip", "ip4", "ip6", "both")


def parse_interval(text: str) -> float:
    """A duration from 1ms to 1m between two echo requests."""
    try:
        seconds = parse_duration(text)
    except ValueError:
        raise ValueError(f"must be a duration such as 150ms or 1s, got {text!r}") from None
    if not 0.001 <= seconds <= 60:
        raise ValueError(f"must be between 1ms and 1m, got {text!r}")
    return seconds


PROPERTIES = (
    PropertySpec(
        "timeout",
        "How long each echo request waits for its reply, e.g. 1s. The whole probe takes at "
        "most (count - 1) × interval + timeout.",
        default="1s",
        parse=parse_timeout,
    ),
    PropertySpec(
        "count", "Echo requests to send, 1 to 100.", default="3", parse=int_parser(1, 100)
    ),
    PropertySpec(
        "interval",
        "Time between two echo requests, 1ms to 1m, e.g. 150ms.",
        default="150ms",
        parse=parse_interval,
    ),
    PropertySpec(
        "size",
        f"Payload bytes per request, {MIN_PAYLOAD_BYTES} to {MAX_PAYLOAD_BYTES} "
        "(IP and ICMP headers come on top).",
        default="56",
        parse=int_parser(MIN_PAYLOAD_BYTES, MAX_PAYLOAD_BYTES),
    ),
    PropertySpec(
        "network",
        "Address families to ping when a name resolves: ip (every IPv4 and IPv6 address), ip4 "
        "(every IPv4 address) or ip6 (every IPv6 address), all at once, up if any answers; or "
        "both (each family must answer: Failed naming the one that did not; per-family "
        "outputs end in 4 and 6).",
        default="ip",
        choices=NETWORKS,
    ),
)

OUTPUTS = (
    OutputSpec("minRtt", "number", "Fastest round trip, ms.", unit="ms"),
    OutputSpec("avgRtt", "number", "Mean round trip over the replies, ms (the value).", unit="ms"),
    OutputSpec("maxRtt", "number", "Slowest round trip, ms.", unit="ms"),
    OutputSpec(
        "jitter", "number", "Standard deviation of the round trips, ms (0 below 2).", unit="ms"
    ),
    OutputSpec("packetsRecv", "number", "Replies received in time."),
    OutputSpec(
        "packetLoss", "number", "Percent of the requests without a reply in time.", unit="%"
    ),
    OutputSpec(
        "ipAddress",
        "string",
        "The best address pinged (lowest avgRtt among those answering), e.g. 192.0.2.7 or ::1.",
    ),
    OutputSpec("addressCount", "number", "Addresses pinged (every address the name has)."),
    OutputSpec("answeringCount", "number", "Addresses that answered at least once."),
)
PER_FAMILY = ("avgRtt", "packetLoss", "ipAddress")
OUTPUTS += per_family_outputs(OUTPUTS, PER_FAMILY)

# The most addresses of one name pinged at once (the first ones in the resolver's order).
MAX_ADDRESSES = 16


def total_seconds(properties: Mapping[str, object]) -> float:
    """The most a run may take: ``(count - 1) × interval + timeout`` (module docstring)."""
    count = int(properties["count"])
    return (count - 1) * float(properties["interval"]) + float(properties["timeout"])


def check_target(target: str) -> None:
    """Raise ``ValueError`` unless ``target`` is a host name or an IP address."""
    if not target:
        raise ValueError("empty target")
    if not (is_ip_address(target) or is_host_name(target)):
        raise ValueError(f"{target!r} is not a host name or IP address")


# (family, type, proto, canonname, sockaddr), as socket.getaddrinfo returns them.
AddressInfo = tuple[int, int, int, str, tuple]

_FAMILY_FOR_NETWORK = {"ip": socket.AF_UNSPEC, "ip4": socket.AF_INET, "ip6": socket.AF_INET6}


def choose_addresses(addresses: Sequence[AddressInfo], network: str) -> list[AddressInfo]:
    """The entries to ping among ``getaddrinfo`` results: those of the families ``network``
    asks for (both for ``ip``), each address once, in the resolver's order."""
    wanted = _FAMILY_FOR_NETWORK[network]
    chosen: dict[str, AddressInfo] = {}
    for entry in addresses:
        if entry[0] in (socket.AF_INET, socket.AF_INET6) and wanted in (socket.AF_UNSPEC, entry[0]):
            chosen.setdefault(entry[4][0], entry)
    return list(chosen.values())


@dataclass(frozen=True)
class AddressReplies:
    """What one address answered: its round trips in time (ms) and its send errors."""

    address: str
    rtts: list[float]
    send_errors: list[OSError]


def check_target_properties(target: str, properties: Mapping[str, object]) -> None:
    """An address literal must be of a family ``network`` allows (``both``: a name)."""
    check_target_network(target, str(properties.get("network") or "ip"))


async def probe(target: str, properties: Mapping[str, object]) -> ProbeResult:
    """Ping ``target``; see the module docstring for the schedule and the deadline."""
    if properties["network"] == "both":
        if (problem := literal_problem(target, "both")) is not None:
            raise ProbeFailure(problem)
        return await over_both(
            lambda network: _ping(target, {**properties, "network": network}), PER_FAMILY
        )
    return await _ping(target, properties)


async def _ping(target: str, properties: Mapping[str, object]) -> ProbeResult:
    timeout = float(properties["timeout"])
    count = int(properties["count"])
    interval = float(properties["interval"])
    size = int(properties["size"])
    network = str(properties["network"])
    loop = asyncio.get_running_loop()
    ends_at = loop.time() + total_seconds(properties)

    try:
        addresses = await _resolve(target, network, timeout)
    except netpolicy.PolicyDenied as error:
        raise ProbeFailure(str(error)) from None

    async def ping_one(family: int, sockaddr: tuple) -> AddressReplies:
        with use_channel(loop, family) as channel:
            rtts_ns, send_errors = await channel.ping(
                sockaddr, count=count, interval=interval, size=size, ends_at=ends_at
            )
        in_time = [rtt / 1e6 for rtt in rtts_ns if rtt <= timeout * 1e9]
        return AddressReplies(sockaddr[0], in_time, send_errors)

    replies = await asyncio.gather(*(ping_one(family, addr) for family, addr in addresses))
    answering = [reply for reply in replies if reply.rtts]
    if not answering:
        if all(len(reply.send_errors) == count for reply in replies):
            raise ProbeFailure(describe_send_error(replies[0].send_errors[0], "echo request"))
        if len(replies) > 1:
            raise ProbeFailure(f"no reply from host (none of its {len(replies)} addresses)")
        raise ProbeFailure("no reply from host")
    best = min(answering, key=lambda reply: statistics.fmean(reply.rtts))
    in_time = best.rtts
    average = statistics.fmean(in_time)
    outputs = {
        "minRtt": round(min(in_time), 3),
        "avgRtt": round(average, 3),
        "maxRtt": round(max(in_time), 3),
        "jitter": round(statistics.pstdev(in_time), 3) if len(in_time) > 1 else 0.0,
        "packetsRecv": len(in_time),
        "packetLoss": round(100 * (count - len(in_time)) / count, 3),
        "ipAddress": best.address,
        "addressCount": len(replies),
        "answeringCount": len(answering),
    }
    return ProbeResult(value=outputs["avgRtt"], outputs=outputs)


async def _resolve(target: str, network: str, timeout: float) -> list[tuple[int, tuple]]:
    """(family, socket address) of each address to ping; ProbeFailure when there is none,
    PolicyDenied when the probe network policy refuses every candidate
    (``monitors.netpolicy``)."""
    policy = netpolicy.current()
    policy.check_name(target)
    if is_ip_address(target):
        # A literal never needs the resolver thread pool: AI_NUMERICHOST does no lookup.
        addresses = socket.getaddrinfo(
            target, None, type=socket.SOCK_DGRAM, flags=socket.AI_NUMERICHOST
        )
        chosen = choose_addresses(addresses, network)
        if not chosen:
            family = "IPv4" if network == "ip4" else "IPv6"
            raise ProbeFailure(f"{target} is not an {family} address (network={network})")
        return [(chosen[0][0], chosen[0][4])]
    loop = asyncio.get_running_loop()
    try:
        addresses = await asyncio.wait_for(
            loop.getaddrinfo(
                target, None, family=_FAMILY_FOR_NETWORK[network], type=socket.SOCK_DGRAM
            ),
            timeout,
        )
    except socket.gaierror:
        raise ProbeFailure("could not resolve host") from None
    except TimeoutError:
        raise ProbeFailure(f"timed out after {format_seconds(timeout)} resolving host") from None
    # Every address of the families asked for that the probe network policy allows.
    wanted = choose_addresses(addresses, network)
    allowed = policy.permitted(target, wanted, lambda info: info[4][0])
    if not allowed:
        raise ProbeFailure("could not resolve host")
    return [(entry[0], entry[4]) for entry in allowed[:MAX_ADDRESSES]]


PROBE = ProbeType(
    kind="ping",
    label="Ping (ICMP)",
    short_label="Ping",
    target_help="Host name or IP address to ping, e.g. gateway.lan, 192.0.2.1 or 2001:db8::1",
    properties=PROPERTIES,
    outputs=OUTPUTS,
    check_target=check_target,
    probe=probe,
    template=MonitorTemplate(
        title="Ping a host",
        name="Gateway",
        target="192.0.2.1",
        interval="1m",
        rule="packetLoss == 0 && avgRtt < 50",
        properties={"count": "3"},
        rule_examples=("packetLoss == 0", "packetLoss < 50 && avgRtt < 100"),
    ),
    deadline_for=total_seconds,
    target_shape="a host name or an IP address, without scheme or port",
    check_target_properties=check_target_properties,
)
