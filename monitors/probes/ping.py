"""The ``ping`` monitor type: ICMP echo requests to one address, on a fixed schedule.

Contract (``docs/contract.md`` §2, ping row), plain data in and out:

* Target: a host name or an IPv4/IPv6 address (``::1``, no brackets).
* Properties (declared in ``PROPERTIES``): ``timeout`` (1s), ``count`` (3), ``interval``
  (150ms), ``size`` (56), ``network`` (ip).
* Outputs (declared in ``OUTPUTS``): ``minRtt``, ``avgRtt`` (also the value), ``maxRtt`` and
  ``jitter`` in ms, ``packetsRecv``, ``packetLoss`` (percent of ``count``), ``ipAddress``.
* Expected failures raise ``ProbeFailure``: ``no reply from host`` (100 % loss: Failed, never
  OK), ``could not resolve host``, ``network unreachable``, ``host unreachable``, and a message
  telling the operator how to allow ICMP sockets when the process may open none.

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

What is pinged when a name has several addresses (``network``): ``ip`` pings the first address
``getaddrinfo`` returns (RFC 6724 order: usually IPv6 first when the host has IPv6
connectivity), ``ip4`` the first IPv4 address, ``ip6`` the first IPv6 address; in each case
the first one the probe network policy allows (``monitors.netpolicy``), and when it allows
none the run fails with its reason. An address
literal of the other family than ``network`` asks for fails, as it would in Go.

Sockets and concurrency. icmplib opens the sockets (raw when the process may, that is root or
CAP_NET_RAW; else the kernel's unprivileged ICMP datagram sockets, allowed by
``net.ipv4.ping_group_range``), but the send/receive loop is ours rather than
``icmplib.async_ping``, for two reasons measured against many concurrent probes:

1. ``async_ping`` sends, waits for that reply, sleeps, sends the next; a lost packet delays the
   rest by a whole ``timeout``, so its worst case is ``count × timeout + …``.
2. It opens a raw socket per call, and the kernel copies every incoming echo reply to every
   open raw ICMP socket: N concurrent pings parse N² packets, and receive buffers overflowing
   under that load look like packet loss.

So all pings on one event loop share ONE socket per address family (``_EchoChannel``, opened by
the first ping and closed by the last), read by one reader callback. Each request carries a
unique 8-byte token at the start of its payload, and replies are matched by that token alone:
concurrent pings to the same host (or another process pinging it, whose replies a raw socket
also sees) can never take each other's replies, and it works unchanged for datagram sockets,
where the kernel rewrites the ICMP identifier. Each probe still uses its own identifier
(``_identifiers``), as ping(8) does, so middleboxes see separate flows. On raw sockets a kernel
filter passes echo replies only, and the receive time is the kernel's timestamp of the packet
(``SO_TIMESTAMPNS``, Linux), so a busy event loop does not inflate the RTTs.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import itertools
import platform
import random
import socket
import statistics
import struct
import sys
import time
from collections.abc import Iterator, Mapping, Sequence

from icmplib import ICMPv4Socket, ICMPv6Socket
from icmplib.exceptions import ICMPSocketError, SocketPermissionError

from lib.durations import format_seconds, parse_duration
from monitors import netpolicy
from monitors.probes.base import (
    MonitorTemplate,
    OutputSpec,
    ProbeFailure,
    ProbeResult,
    ProbeType,
    PropertySpec,
    describe_error,
    int_parser,
    parse_timeout,
)
from monitors.targets import is_host_name, is_ip_address

NETWORKS = ("ip", "ip4", "ip6")
MIN_PAYLOAD_BYTES = 8  # the matching token lives in the first 8 payload bytes
MAX_PAYLOAD_BYTES = 65500  # below the IPv4 limit of 65507 (65535 minus IP and ICMP headers)

PERMISSION_MESSAGE = (
    "ping needs permission to open ICMP sockets: grant CAP_NET_RAW to the worker, or allow "
    "its group in sysctl net.ipv4.ping_group_range"
)


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
        "Address family to ping when a name has several addresses: ip (the first address "
        "the resolver returns), ip4 (the first IPv4 address) or ip6 (the first IPv6 address).",
        default="ip",
        choices=NETWORKS,
    ),
)

OUTPUTS = (
    OutputSpec("minRtt", "number", "Fastest round trip, ms."),
    OutputSpec("avgRtt", "number", "Mean round trip over the replies, ms (the value)."),
    OutputSpec("maxRtt", "number", "Slowest round trip, ms."),
    OutputSpec("jitter", "number", "Standard deviation of the round trips, ms (0 below 2)."),
    OutputSpec("packetsRecv", "number", "Replies received in time."),
    OutputSpec("packetLoss", "number", "Percent of the requests without a reply in time."),
    OutputSpec("ipAddress", "string", "The address pinged, e.g. 192.0.2.7 or ::1."),
)


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


def choose_address(addresses: Sequence[AddressInfo], network: str) -> AddressInfo | None:
    """The entry to ping among ``getaddrinfo`` results: the first of the family ``network``
    asks for (any family for ``ip``), or None."""
    wanted = _FAMILY_FOR_NETWORK[network]
    for entry in addresses:
        if entry[0] in (socket.AF_INET, socket.AF_INET6) and wanted in (socket.AF_UNSPEC, entry[0]):
            return entry
    return None


async def probe(target: str, properties: Mapping[str, object]) -> ProbeResult:
    """Ping ``target``; see the module docstring for the schedule and the deadline."""
    timeout = float(properties["timeout"])
    count = int(properties["count"])
    interval = float(properties["interval"])
    size = int(properties["size"])
    network = str(properties["network"])
    loop = asyncio.get_running_loop()
    ends_at = loop.time() + total_seconds(properties)

    try:
        family, sockaddr = await _resolve(target, network, timeout)
    except netpolicy.PolicyDenied as error:
        raise ProbeFailure(str(error)) from None
    with _use_channel(loop, family) as channel:
        rtts_ns, send_errors = await channel.ping(
            sockaddr, count=count, interval=interval, size=size, ends_at=ends_at
        )

    in_time = [rtt / 1e6 for rtt in rtts_ns if rtt <= timeout * 1e9]
    if not in_time:
        if len(send_errors) == count:
            raise ProbeFailure(_describe_send_error(send_errors[0]))
        raise ProbeFailure("no reply from host")
    average = statistics.fmean(in_time)
    outputs = {
        "minRtt": round(min(in_time), 3),
        "avgRtt": round(average, 3),
        "maxRtt": round(max(in_time), 3),
        "jitter": round(statistics.pstdev(in_time), 3) if len(in_time) > 1 else 0.0,
        "packetsRecv": len(in_time),
        "packetLoss": round(100 * (count - len(in_time)) / count, 3),
        "ipAddress": sockaddr[0],
    }
    return ProbeResult(value=outputs["avgRtt"], outputs=outputs)


async def _resolve(target: str, network: str, timeout: float) -> tuple[int, tuple]:
    """(family, socket address) to ping; ProbeFailure when there is none, PolicyDenied when
    the probe network policy refuses every candidate (``monitors.netpolicy``)."""
    policy = netpolicy.current()
    policy.check_name(target)
    if is_ip_address(target):
        # A literal never needs the resolver thread pool: AI_NUMERICHOST does no lookup.
        addresses = socket.getaddrinfo(
            target, None, type=socket.SOCK_DGRAM, flags=socket.AI_NUMERICHOST
        )
        chosen = choose_address(addresses, network)
        if chosen is None:
            family = "IPv4" if network == "ip4" else "IPv6"
            raise ProbeFailure(f"{target} is not an {family} address (network={network})")
        return chosen[0], chosen[4]
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
    # The first address of the family asked for that the probe network policy allows.
    wanted = [entry for entry in addresses if choose_address([entry], network) is not None]
    allowed = policy.permitted(target, wanted, lambda info: info[4][0])
    if not allowed:
        raise ProbeFailure("could not resolve host")
    return allowed[0][0], allowed[0][4]


def _describe_send_error(error: OSError) -> str:
    if error.errno == errno.ENETUNREACH:
        return "network unreachable"
    if error.errno == errno.EHOSTUNREACH:
        return "host unreachable"
    return f"cannot send echo request: {describe_error(error)}"


# --- The shared socket ------------------------------------------------------------------------

# Linux SOL_SOCKET options Python does not name; the values are the asm-generic ones, which
# these architectures use. Elsewhere the receive time is read when the reply is handled.
_SO_TIMESTAMPNS = 35
_TIMESTAMPS = sys.platform == "linux" and platform.machine() in {"x86_64", "aarch64", "riscv64"}
_SOL_RAW, _ICMP_FILTER, _ICMP6_FILTER = 255, 1, 1
_ECHO_REPLY = {socket.AF_INET: 0, socket.AF_INET6: 129}
_ECHO_REQUEST = {socket.AF_INET: 8, socket.AF_INET6: 128}
_READS_PER_WAKEUP = 256  # bounded, so a reply flood cannot hold the loop
_RECEIVE_BUFFER_BYTES = 1 << 20  # best effort; the kernel caps it at net.core.rmem_max
_FILLER = bytes(index & 0xFF for index in range(MAX_PAYLOAD_BYTES))

# Tokens start at a random point so two worker processes never hand out the same ones;
# identifiers only need to differ between the pings of this process.
_tokens = itertools.count(random.getrandbits(64))
_identifiers = itertools.count(random.getrandbits(16))

_channels: dict[tuple[asyncio.AbstractEventLoop, int], _EchoChannel] = {}


@contextlib.contextmanager
def _use_channel(loop: asyncio.AbstractEventLoop, family: int) -> Iterator[_EchoChannel]:
    """The loop's shared channel for ``family``: opened by the first user, closed by the last."""
    key = (loop, family)
    channel = _channels.get(key)
    if channel is None:
        channel = _channels[key] = _EchoChannel(loop, family)
    channel.users += 1
    try:
        yield channel
    finally:
        channel.users -= 1
        if channel.users == 0:
            del _channels[key]
            channel.close()


def _open_icmp_socket(family: int) -> ICMPv4Socket | ICMPv6Socket:
    """A raw ICMP socket if this process may open one, else an unprivileged datagram one."""
    socket_class = ICMPv4Socket if family == socket.AF_INET else ICMPv6Socket
    with contextlib.suppress(SocketPermissionError):
        return socket_class(privileged=True)
    try:
        return socket_class(privileged=False)
    except SocketPermissionError:
        raise ProbeFailure(PERMISSION_MESSAGE) from None
    except ICMPSocketError as error:
        raise ProbeFailure(f"cannot open an ICMP socket: {error}") from None


def _checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


class _EchoChannel:
    """One ICMP socket shared by every ping of one event loop and address family.

    ``pending`` maps a request's token to the future its reply resolves (with the round trip
    in nanoseconds) and the send time; the reader callback pops the token it receives.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, family: int) -> None:
        self.loop = loop
        self.family = family
        self.users = 0
        self.pending: dict[bytes, tuple[asyncio.Future[int], int]] = {}
        # Keep icmplib's object: it owns the socket and closes it when collected.
        self._icmp = _open_icmp_socket(family)
        self._sock: socket.socket = self._icmp.sock
        privileged = self._icmp.is_privileged
        # Raw IPv4 sockets deliver the IP header; datagram and all IPv6 sockets do not.
        self._ip_header = privileged and family == socket.AF_INET
        # The kernel fills the checksum for ICMPv6 and for datagram sockets, not raw IPv4.
        self._needs_checksum = self._ip_header
        self._reply_type = _ECHO_REPLY[family]
        self._request_type = _ECHO_REQUEST[family]
        self._buffer = bytearray(MAX_PAYLOAD_BYTES + 128)
        self._view = memoryview(self._buffer)
        self._ancillary_size = socket.CMSG_SPACE(16) if _TIMESTAMPS else 0
        self._sock.setblocking(False)
        self._tune(privileged)
        loop.add_reader(self._sock.fileno(), self._on_readable)

    def _tune(self, privileged: bool) -> None:
        """Best-effort socket options; each one only saves work or improves accuracy."""
        with contextlib.suppress(OSError):
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECEIVE_BUFFER_BYTES)
        if _TIMESTAMPS:
            try:
                self._sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
            except OSError:
                self._ancillary_size = 0
        if not privileged:
            return  # datagram sockets only ever receive their own echo replies
        # Raw sockets see every ICMP packet the host receives: let the kernel pass echo
        # replies only (a set bit blocks that type).
        with contextlib.suppress(OSError):
            if self.family == socket.AF_INET:
                blocked = 0xFFFFFFFF & ~(1 << self._reply_type)
                self._sock.setsockopt(_SOL_RAW, _ICMP_FILTER, struct.pack("I", blocked))
            else:
                words = [0xFFFFFFFF] * 8
                words[self._reply_type >> 5] &= ~(1 << (self._reply_type & 31))
                self._sock.setsockopt(
                    socket.IPPROTO_ICMPV6, _ICMP6_FILTER, struct.pack("8I", *words)
                )

    async def ping(
        self, sockaddr: tuple, *, count: int, interval: float, size: int, ends_at: float
    ) -> tuple[list[int], list[OSError]]:
        """Send ``count`` requests ``interval`` apart and wait for replies until ``ends_at``
        (loop time). Returns the round trips received (ns) and the send errors."""
        identifier = next(_identifiers) & 0xFFFF
        tail = _FILLER[: size - MIN_PAYLOAD_BYTES]
        futures: list[asyncio.Future[int]] = []
        tokens: list[bytes] = []
        send_errors: list[OSError] = []
        first_send = self.loop.time()
        try:
            for sequence in range(count):
                if sequence:
                    # Sleep to the schedule, not by interval, so late wake-ups never add up.
                    await asyncio.sleep(first_send + sequence * interval - self.loop.time())
                token = (next(_tokens) & 0xFFFF_FFFF_FFFF_FFFF).to_bytes(8, "big")
                try:
                    future = self._send(sockaddr, identifier, sequence, token + tail)
                except OSError as error:
                    send_errors.append(error)
                    continue
                tokens.append(token)
                futures.append(future)
            remaining = ends_at - self.loop.time()
            if futures and remaining > 0:
                await asyncio.wait(futures, timeout=remaining)
        finally:
            for token in tokens:
                self.pending.pop(token, None)
        return [future.result() for future in futures if future.done()], send_errors

    def _send(
        self, sockaddr: tuple, identifier: int, sequence: int, payload: bytes
    ) -> asyncio.Future[int]:
        header = struct.pack("!BBHHH", self._request_type, 0, 0, identifier, sequence & 0xFFFF)
        if self._needs_checksum:
            checksum = _checksum(header + payload)
            header = struct.pack(
                "!BBHHH", self._request_type, 0, checksum, identifier, sequence & 0xFFFF
            )
        future: asyncio.Future[int] = self.loop.create_future()
        sent_ns = time.time_ns()
        self._sock.sendto(header + payload, sockaddr)
        self.pending[payload[:MIN_PAYLOAD_BYTES]] = (future, sent_ns)
        return future

    def _on_readable(self) -> None:
        for _ in range(_READS_PER_WAKEUP):
            try:
                size, ancillary, _flags, _source = self._sock.recvmsg_into(
                    [self._buffer], self._ancillary_size
                )
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue  # e.g. a queued ICMP error on a datagram socket: nothing to match
            self._match(size, ancillary)

    def _match(self, size: int, ancillary: list[tuple[int, int, bytes]]) -> None:
        view = self._view
        offset = (view[0] & 0x0F) * 4 if self._ip_header else 0
        if size < offset + 8 + MIN_PAYLOAD_BYTES or view[offset] != self._reply_type:
            return
        token = bytes(view[offset + 8 : offset + 8 + MIN_PAYLOAD_BYTES])
        waiter = self.pending.pop(token, None)
        if waiter is None:
            return  # a reply to another process, or one that came after its probe ended
        future, sent_ns = waiter
        received_ns = _kernel_timestamp(ancillary) or time.time_ns()
        if not future.done():
            future.set_result(max(0, received_ns - sent_ns))

    def close(self) -> None:
        self.loop.remove_reader(self._sock.fileno())
        self._icmp.close()


def _kernel_timestamp(ancillary: list[tuple[int, int, bytes]]) -> int | None:
    """The packet's receive time (ns, CLOCK_REALTIME) from an SCM_TIMESTAMPNS message."""
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(data) >= 16:
            seconds, nanoseconds = struct.unpack("qq", data[:16])
            return seconds * 1_000_000_000 + nanoseconds
    return None


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
)
