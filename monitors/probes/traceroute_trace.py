"""The ``traceroute`` probe's packets: every TTL's probes sent at once, replies matched.

One ``trace()`` opens its own raw ICMP socket (the replies: echo reply, time exceeded,
destination unreachable; a kernel filter passes only those three types) and, in ``udp`` mode,
a UDP socket on an ephemeral port (the probes). It sends ``probes`` packets for every
TTL from 1 to ``hops`` in one go, each with its TTL set on the socket just before it leaves,
then reads replies until every TTL up to the end of the path has all its answers or the
deadline comes. Sending everything at once is what lets a 30-hop trace fit one deadline: a
hop-by-hop trace waits for each silent hop in turn.

Matching. Each probe has a serial number ``index`` (``(ttl - 1) * probes + n``):

* ``icmp``: an echo request with this trace's identifier and sequence ``index``. The answer
  is an echo reply (the destination; it also carries back the trace's random 8-byte payload
  token) or an ICMP error quoting the request's IP header and first 8 bytes (identifier and
  sequence).
* ``udp``: a datagram from this trace's bound source port to port ``33434 + index`` (as
  traceroute(8)). The answer is an ICMP error quoting the UDP header (both ports); port
  unreachable from the target means the destination was reached.

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
from dataclasses import dataclass, field

from monitors.probes.base import ProbeFailure
from monitors.probes.ping_channel import _checksum, _kernel_timestamp

UDP_BASE_PORT = 33434
PERMISSION_MESSAGE = (
    "traceroute needs a raw ICMP socket: run the worker as root or with CAP_NET_RAW"
)

_ECHO_REPLY, _UNREACHABLE, _ECHO_REQUEST, _TIME_EXCEEDED = 0, 3, 8, 11
_PORT_UNREACHABLE = 3
_SO_TIMESTAMPNS = 35
_SOL_RAW, _ICMP_FILTER = 255, 1
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


def _open_raw_icmp() -> socket.socket:
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    except PermissionError:
        raise ProbeFailure(PERMISSION_MESSAGE) from None
    sock.setblocking(False)
    with contextlib.suppress(OSError):  # a set bit blocks that ICMP type
        allowed = (1 << _ECHO_REPLY) | (1 << _UNREACHABLE) | (1 << _TIME_EXCEEDED)
        sock.setsockopt(_SOL_RAW, _ICMP_FILTER, struct.pack("I", 0xFFFFFFFF & ~allowed))
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
    return sock


class _Tracer:
    def __init__(
        self, loop: asyncio.AbstractEventLoop, target: str, hops: int, probes: int, protocol: str
    ) -> None:
        self.loop = loop
        self.target = target
        self.protocol = protocol
        self.trace = Trace(hops=hops, probes=probes)
        self.identifier = next(_identifiers) & 0xFFFF
        # An echo reply carries the whole request back: the token tells ours from a ping's
        # that happens to use the same identifier.
        self.payload = secrets.token_bytes(8) + _FILLER
        self.sent_ns: dict[int, int] = {}
        self.done = loop.create_future()
        self.receiver = _open_raw_icmp()
        self.sender = self.receiver
        self.source_port = 0
        if protocol == "udp":
            self.sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sender.setblocking(False)
        self.buffer = bytearray(2048)
        loop.add_reader(self.receiver.fileno(), self._on_readable)

    def close(self) -> None:
        self.loop.remove_reader(self.receiver.fileno())
        self.receiver.close()
        if self.sender is not self.receiver:
            self.sender.close()

    def send_all(self) -> None:
        trace = self.trace
        for ttl in range(1, trace.hops + 1):
            self.sender.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
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
            # The first send binds the socket to an ephemeral port: the replies quote it.
            self.source_port = self.source_port or self.sender.getsockname()[1]
        else:
            header = struct.pack("!BBHHH", _ECHO_REQUEST, 0, 0, self.identifier, index)
            checksum = _checksum(header + self.payload)
            header = struct.pack("!BBHHH", _ECHO_REQUEST, 0, checksum, self.identifier, index)
            self.sender.sendto(header + self.payload, (self.target, 0))
        self.sent_ns[index] = sent

    def _on_readable(self) -> None:
        for _ in range(256):  # bounded, so a flood of ICMP cannot hold the loop
            try:
                size, ancillary, _flags, source = self.receiver.recvmsg_into(
                    [self.buffer], socket.CMSG_SPACE(16)
                )
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue
            matched = self._match(memoryview(self.buffer)[:size])
            if matched is None:
                continue
            index, reached, unreachable = matched
            trace = self.trace
            if index in trace.answers or index not in self.sent_ns:
                continue
            received = _kernel_timestamp(ancillary) or time.time_ns()
            answer = Answer(
                ttl=index // trace.probes + 1,
                address=source[0],
                rtt_ms=round(max(0, received - self.sent_ns[index]) / 1e6, 3),
                reached=reached,
                unreachable=unreachable,
            )
            if trace.add(index, answer) and not self.done.done():
                self.done.set_result(None)
                return  # what is still queued (the destination's later answers) is not read

    def _match(self, packet: memoryview) -> tuple[int, bool, bool] | None:
        """(probe index, reached, unreachable) of a reply to this trace, else None."""
        offset = (packet[0] & 0x0F) * 4 if len(packet) else 0
        if len(packet) < offset + 8:
            return None
        kind, code = packet[offset], packet[offset + 1]
        source = socket.inet_ntoa(bytes(packet[12:16]))
        if kind == _ECHO_REPLY:
            identifier, index = struct.unpack("!HH", packet[offset + 4 : offset + 8])
            if self.protocol != "icmp" or identifier != self.identifier:
                return None
            if bytes(packet[offset + 8 : offset + 16]) != self.payload[:8]:
                return None
            return index, True, False
        inner = offset + 8  # the quoted IP header of our probe, then its first 8 bytes
        if len(packet) < inner + 20:
            return None
        inner_data = inner + (packet[inner] & 0x0F) * 4
        if len(packet) < inner_data + 8:
            return None
        if socket.inet_ntoa(bytes(packet[inner + 16 : inner + 20])) != self.target:
            return None
        quoted_protocol = packet[inner + 9]
        if self.protocol == "icmp":
            if quoted_protocol != socket.IPPROTO_ICMP or packet[inner_data] != _ECHO_REQUEST:
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
        if kind == _TIME_EXCEEDED:
            return index, False, False
        if kind != _UNREACHABLE:
            return None
        from_target = source == self.target
        # The target's port unreachable (udp) or any unreachable it sends itself ends the
        # path there; a router's unreachable means the path ends before the target.
        if from_target and (code == _PORT_UNREACHABLE or self.protocol == "udp"):
            return index, True, False
        return index, from_target, not from_target


async def trace(target: str, *, hops: int, probes: int, protocol: str, ends_at: float) -> Trace:
    """Trace the path to the IPv4 address ``target`` until ``ends_at`` (loop time)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    tracer = _Tracer(loop, target, hops, probes, protocol)
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
