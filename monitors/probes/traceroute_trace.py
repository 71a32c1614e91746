"""The ``traceroute`` probe's packets: every TTL's probes sent at once, replies matched.

The traces of one event loop share one raw ICMP socket per address family (``_Receiver``:
the answers, echo reply, time exceeded and destination unreachable, the only types a kernel
filter passes; and the echo requests), which hands each answer to the trace it belongs to by
its echo identifier or its UDP source port; in ``udp`` mode a trace sends from a UDP socket
of its own, on an ephemeral port. It sends ``probes`` packets for every
TTL from 1 to ``hops`` in one go, each with its TTL set on the socket just before it leaves,
then reads replies until every TTL up to the end of the path has all its answers, or the
deadline comes, or the hops still silent after the end of the path answered have had
``max(1s, 10 × the slowest answer so far)`` more (``SETTLE_SECONDS``, ``SETTLE_RTTS``:
traceroute(8)'s NEAR wait), so a router that never answers does not cost the whole deadline.
Sending everything at once is what lets a 30-hop trace fit one deadline: a hop-by-hop trace
waits for each silent hop in turn.

Matching. Each probe has a serial number ``index`` (``(ttl - 1) * probes + n``):

* ``icmp``: an echo request with this trace's identifier and sequence ``index``. The answer
  is an echo reply (the destination; it also carries back the trace's random 8-byte payload
  token) or an ICMP error quoting the request's IP header and first 8 bytes (identifier and
  sequence).
* ``udp``: a datagram from this trace's bound source port to port ``33434 + index`` (as
  traceroute(8)). The answer is an ICMP error quoting the UDP header (both ports); port
  unreachable from the target means the destination was reached.

IPv6 works the same with ICMPv6 (echo request 128 and reply 129, time exceeded 3,
unreachable 1 with port unreachable code 4) and the hop limit for the TTL; the kernel passes
no IP header and computes the checksums, and a quoted IPv6 header is its fixed 40 bytes (an
extension header in a quoted probe is not followed: ours carry none).

A quoted packet must also have been sent to the target, so replies to another trace or to
another program on this host are never taken. Receive times are the kernel's packet
timestamps (``SO_TIMESTAMPNS``), as for ping. Plain Python, no Django.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import secrets
import socket
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from monitors.probes.base import ProbeFailure
from monitors.probes.ping_channel import _checksum, _kernel_timestamp

UDP_BASE_PORT = 33434
# Once the end of the path answered, probes still unanswered get this much longer (traceroute
# waits 10 × a nearer answer's round trip for a probe, its -w NEAR; at least a second here).
SETTLE_SECONDS, SETTLE_RTTS = 1.0, 10
PERMISSION_MESSAGE = (
    "traceroute needs a raw ICMP socket: run the worker as root or with CAP_NET_RAW"
)

_SO_TIMESTAMPNS = 35
_SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
_RECEIVE_BUFFER_BYTES = 8 << 20
_SOL_RAW, _ICMP_FILTER, _ICMP6_FILTER = 255, 1, 1
_FILLER = bytes(range(24))  # after the 8-byte token: 32 bytes of payload, as traceroute's
_identifiers = itertools.count(random.getrandbits(16))


@dataclass(frozen=True)
class Answer:
    """One probe's answer: who sent it, the round trip, and what it says of the path."""

    ttl: int
    address: str
    rtt_ms: float
    reached: bool  # the destination answered (echo reply, or its port unreachable)
    unreachable: bool  # a router said the destination cannot be reached


@dataclass
class Trace:
    """What came back: answers by probe index, the send errors, and when it ended."""

    hops: int
    probes: int
    answers: dict[int, Answer] = field(default_factory=dict)
    send_errors: list[OSError] = field(default_factory=list)
    elapsed_ms: float = 0.0
    # The probes still awaited: every probe, then those below the end of the path once known.
    missing: set[int] = field(init=False)

    def __post_init__(self) -> None:
        self.missing = set(range(self.hops * self.probes))

    def end_ttl(self) -> int | None:
        """The lowest TTL whose answer ends the path (the destination or an unreachable)."""
        ends = [a.ttl for a in self.answers.values() if a.reached or a.unreachable]
        return min(ends) if ends else None

    def add(self, index: int, answer: Answer) -> bool:
        """Keep ``answer``; whether every probe up to the end of the path (every TTL while
        the end is unknown) has its answer now."""
        self.answers[index] = answer
        self.missing.discard(index)
        if answer.reached or answer.unreachable:
            needed = answer.ttl * self.probes
            self.missing = {missing for missing in self.missing if missing < needed}
        return not self.missing


@dataclass(frozen=True)
class _Family:
    """What differs between tracing over IPv4 and over IPv6."""

    family: int
    icmp: int  # the ICMP protocol number
    echo_request: int
    echo_reply: int
    unreachable: int
    time_exceeded: int
    port_unreachable: int  # the unreachable code
    hop_limit: tuple[int, int]  # the socket option setting the TTL / hop limit
    ip_header: bool  # raw sockets deliver the IP header (IPv4 only)
    quoted_header: int  # the quoted IP header's length (IPv4: read from the header)
    next_header: int  # offset of the protocol / next header in the quoted IP header
    destination: int  # offset of the destination address in the quoted IP header


_IPV4 = _Family(
    socket.AF_INET, socket.IPPROTO_ICMP, 8, 0, 3, 11, 3,
    (socket.IPPROTO_IP, socket.IP_TTL), True, 0, 9, 16,
)  # fmt: skip
_IPV6 = _Family(
    socket.AF_INET6, socket.IPPROTO_ICMPV6, 128, 129, 1, 3, 4,
    (socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS), False, 40, 6, 24,
)  # fmt: skip


def _open_raw_icmp(kind: _Family) -> socket.socket:
    try:
        sock = socket.socket(kind.family, socket.SOCK_RAW, kind.icmp)
    except PermissionError:
        raise ProbeFailure(PERMISSION_MESSAGE) from None
    sock.setblocking(False)
    allowed = (kind.echo_reply, kind.unreachable, kind.time_exceeded)
    with contextlib.suppress(OSError):  # a set bit blocks that ICMP type
        if kind is _IPV4:
            bits = 0xFFFFFFFF & ~sum(1 << allow for allow in allowed)
            sock.setsockopt(_SOL_RAW, _ICMP_FILTER, struct.pack("I", bits))
        else:
            words = [0xFFFFFFFF] * 8
            for allow in allowed:
                words[allow >> 5] &= ~(1 << (allow & 31))
            sock.setsockopt(socket.IPPROTO_ICMPV6, _ICMP6_FILTER, struct.pack("8I", *words))
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
    return sock


def _key(kind: _Family, packet: memoryview) -> tuple[str, int] | None:
    """Whose answer ``packet`` is: ("icmp", echo identifier) or ("udp", source port)."""
    offset = (packet[0] & 0x0F) * 4 if kind.ip_header and len(packet) else 0
    if len(packet) < offset + 8:
        return None
    if packet[offset] == kind.echo_reply:
        return "icmp", int.from_bytes(packet[offset + 4 : offset + 6], "big")
    inner = offset + 8
    if len(packet) < inner + 20:
        return None
    inner_data = inner + (kind.quoted_header or (packet[inner] & 0x0F) * 4)
    if len(packet) < inner_data + 8:
        return None
    quoted_protocol = packet[inner + kind.next_header]
    if quoted_protocol == kind.icmp:
        return "icmp", int.from_bytes(packet[inner_data + 4 : inner_data + 6], "big")
    if quoted_protocol == socket.IPPROTO_UDP:
        return "udp", int.from_bytes(packet[inner_data : inner_data + 2], "big")
    return None


class _Receiver:
    """The raw ICMP socket of one event loop and address family, shared by every trace on
    it (a raw socket gets a copy of every ICMP packet the host receives: one per trace would
    make N traces read N × N answers). Answers go to the trace registered under their key;
    echo requests leave through it too."""

    def __init__(self, loop: asyncio.AbstractEventLoop, kind: _Family) -> None:
        self.loop = loop
        self.kind = kind
        self.users = 0
        self.tracers: dict[tuple[str, int], _Tracer] = {}
        self.sock = _open_raw_icmp(kind)
        # Every trace's answers queue here (the destination answers each probe that reaches
        # it): a large buffer, beyond net.core.rmem_max when the process may (CAP_NET_ADMIN).
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, _RECEIVE_BUFFER_BYTES)
        except OSError:
            with contextlib.suppress(OSError):  # capped at net.core.rmem_max
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECEIVE_BUFFER_BYTES)
        self.buffer = bytearray(2048)
        loop.add_reader(self.sock.fileno(), self._on_readable)

    def _on_readable(self) -> None:
        for _ in range(256):  # bounded, so a flood of ICMP cannot hold the loop
            try:
                size, ancillary, _flags, source = self.sock.recvmsg_into(
                    [self.buffer], socket.CMSG_SPACE(16)
                )
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue
            packet = memoryview(self.buffer)[:size]
            key = _key(self.kind, packet)
            tracer = self.tracers.get(key) if key is not None else None
            if tracer is not None:
                sender = socket.inet_pton(self.kind.family, source[0].partition("%")[0])
                tracer.receive(packet, sender, ancillary)

    def close(self) -> None:
        self.loop.remove_reader(self.sock.fileno())
        self.sock.close()


_receivers: dict[tuple[asyncio.AbstractEventLoop, int], _Receiver] = {}


@contextlib.contextmanager
def _use_receiver(loop: asyncio.AbstractEventLoop, kind: _Family) -> Iterator[_Receiver]:
    """The loop's shared receiver for ``kind``: opened by the first trace, closed by the last."""
    key = (loop, kind.family)
    receiver = _receivers.get(key)
    if receiver is None:
        receiver = _receivers[key] = _Receiver(loop, kind)
    receiver.users += 1
    try:
        yield receiver
    finally:
        receiver.users -= 1
        if receiver.users == 0:
            del _receivers[key]
            receiver.close()


class _Tracer:
    def __init__(
        self, receiver: _Receiver, target: str, hops: int, probes: int, protocol: str
    ) -> None:
        self.loop = receiver.loop
        self.kind = receiver.kind
        self.receiver = receiver
        self.target = target
        self.target_packed = socket.inet_pton(self.kind.family, target)
        self.protocol = protocol
        self.trace = Trace(hops=hops, probes=probes)
        # An echo reply carries the whole request back: the token tells ours from a ping's
        # that happens to use the same identifier.
        self.payload = secrets.token_bytes(8) + _FILLER
        self.sent_ns: dict[int, int] = {}
        self.done = self.loop.create_future()
        self.settle: asyncio.TimerHandle | None = None
        self.keys: list[tuple[str, int]] = []
        self.source_port = 0
        self.identifier = 0
        if protocol == "udp":
            self.sender = socket.socket(self.kind.family, socket.SOCK_DGRAM)
            self.sender.setblocking(False)
        else:
            self.sender = receiver.sock
            while ("icmp", self.identifier) in receiver.tracers or not self.identifier:
                self.identifier = next(_identifiers) & 0xFFFF
            self._register(("icmp", self.identifier))

    def _register(self, key: tuple[str, int]) -> None:
        self.receiver.tracers[key] = self
        self.keys.append(key)

    def close(self) -> None:
        if self.settle is not None:
            self.settle.cancel()
        for key in self.keys:
            if self.receiver.tracers.get(key) is self:
                del self.receiver.tracers[key]
        if self.sender is not self.receiver.sock:
            self.sender.close()

    def send_all(self) -> None:
        trace = self.trace
        for ttl in range(1, trace.hops + 1):
            self.sender.setsockopt(*self.kind.hop_limit, ttl)
            for n in range(trace.probes):
                index = (ttl - 1) * trace.probes + n
                try:
                    self._send(index)
                except OSError as error:
                    trace.send_errors.append(error)

    def _send(self, index: int) -> None:
        sent = time.time_ns()
        if self.protocol == "udp":
            self.sender.sendto(self.payload, (self.target, UDP_BASE_PORT + index))
            if not self.source_port:  # the first send binds an ephemeral port: answers quote it
                self.source_port = self.sender.getsockname()[1]
                self._register(("udp", self.source_port))
        else:
            request = self.kind.echo_request
            header = struct.pack("!BBHHH", request, 0, 0, self.identifier, index)
            if self.kind is _IPV4:  # the kernel computes ICMPv6 checksums itself
                checksum = _checksum(header + self.payload)
                header = struct.pack("!BBHHH", request, 0, checksum, self.identifier, index)
            self.sender.sendto(header + self.payload, (self.target, 0))
        self.sent_ns[index] = sent

    def receive(self, packet: memoryview, sender: bytes, ancillary: list) -> None:
        """Take ``packet`` (from ``sender``) if it answers one of this trace's probes."""
        matched = self._match(packet, sender)
        if matched is None:
            return
        index, reached, unreachable = matched
        trace = self.trace
        if index in trace.answers or index not in self.sent_ns or self.done.done():
            return
        received = _kernel_timestamp(ancillary) or time.time_ns()
        answer = Answer(
            ttl=index // trace.probes + 1,
            address=socket.inet_ntop(self.kind.family, sender),
            rtt_ms=round(max(0, received - self.sent_ns[index]) / 1e6, 3),
            reached=reached,
            unreachable=unreachable,
        )
        if trace.add(index, answer):
            self._finish()
        elif (reached or unreachable) and self.settle is None:
            # The end of the path answered: the hops still silent get a last wait.
            slowest = max(a.rtt_ms for a in trace.answers.values()) / 1000
            wait = max(SETTLE_SECONDS, SETTLE_RTTS * slowest)
            self.settle = self.loop.call_later(wait, self._finish)

    def _finish(self) -> None:
        if not self.done.done():
            self.done.set_result(None)

    def _match(self, packet: memoryview, sender: bytes) -> tuple[int, bool, bool] | None:
        """(probe index, reached, unreachable) of a reply to this trace, else None."""
        kind = self.kind
        offset = (packet[0] & 0x0F) * 4 if kind.ip_header and len(packet) else 0
        if len(packet) < offset + 8:
            return None
        message, code = packet[offset], packet[offset + 1]
        if message == kind.echo_reply:
            identifier, index = struct.unpack("!HH", packet[offset + 4 : offset + 8])
            if self.protocol != "icmp" or identifier != self.identifier:
                return None
            if bytes(packet[offset + 8 : offset + 16]) != self.payload[:8]:
                return None
            return index, True, False
        inner = offset + 8  # the quoted IP header of our probe, then its first 8 bytes
        if len(packet) < inner + 20:
            return None
        inner_data = inner + (kind.quoted_header or (packet[inner] & 0x0F) * 4)
        if len(packet) < inner_data + 8:
            return None
        address_end = inner + kind.destination + len(self.target_packed)
        if bytes(packet[inner + kind.destination : address_end]) != self.target_packed:
            return None
        quoted_protocol = packet[inner + kind.next_header]
        if self.protocol == "icmp":
            if quoted_protocol != kind.icmp or packet[inner_data] != kind.echo_request:
                return None
            identifier, index = struct.unpack("!HH", packet[inner_data + 4 : inner_data + 8])
            if identifier != self.identifier:
                return None
        else:
            if quoted_protocol != socket.IPPROTO_UDP:
                return None
            source_port, port = struct.unpack("!HH", packet[inner_data : inner_data + 4])
            if source_port != self.source_port:
                return None
            index = port - UDP_BASE_PORT
        if message == kind.time_exceeded:
            return index, False, False
        if message != kind.unreachable:
            return None
        from_target = sender == self.target_packed
        # The target's port unreachable (udp) or any unreachable it sends itself ends the
        # path there; a router's unreachable means the path ends before the target.
        if from_target and (code == kind.port_unreachable or self.protocol == "udp"):
            return index, True, False
        return index, from_target, not from_target


async def trace(target: str, *, hops: int, probes: int, protocol: str, ends_at: float) -> Trace:
    """Trace the path to the IP address ``target`` until ``ends_at`` (loop time)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    with _use_receiver(loop, _IPV6 if ":" in target else _IPV4) as receiver:
        tracer = _Tracer(receiver, target, hops, probes, protocol)
        try:
            tracer.send_all()
            remaining = ends_at - loop.time()
            if remaining > 0 and not tracer.done.done():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(tracer.done), remaining)
        finally:
            tracer.close()
            if not tracer.done.done():
                tracer.done.cancel()
    tracer.trace.elapsed_ms = round((loop.time() - started) * 1000, 3)
    return tracer.trace
