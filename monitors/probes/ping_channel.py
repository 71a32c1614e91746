"""The ``ping`` probe's shared ICMP socket: one ``EchoChannel`` per event loop and address
family, used by every ping on that loop (``use_channel``), replies matched by a unique token.

Why one shared socket, the tokens, the identifiers and the kernel timestamps: see the
``monitors.probes.ping`` docstring ("Sockets and concurrency"), which holds the contract.
Plain Python, no Django.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import platform
import random
import socket
import struct
import sys
import time
from collections.abc import Iterator

from icmplib import ICMPv4Socket, ICMPv6Socket
from icmplib.exceptions import ICMPSocketError, SocketPermissionError

from monitors.probes.base import ProbeFailure

MIN_PAYLOAD_BYTES = 8  # the matching token lives in the first 8 payload bytes
MAX_PAYLOAD_BYTES = 65500  # below the IPv4 limit of 65507 (65535 minus IP and ICMP headers)

PERMISSION_MESSAGE = (
    "ping needs permission to open ICMP sockets: grant CAP_NET_RAW to the worker, or allow "
    "its group in sysctl net.ipv4.ping_group_range"
)

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

_channels: dict[tuple[asyncio.AbstractEventLoop, int], EchoChannel] = {}


@contextlib.contextmanager
def use_channel(loop: asyncio.AbstractEventLoop, family: int) -> Iterator[EchoChannel]:
    """The loop's shared channel for ``family``: opened by the first user, closed by the last."""
    key = (loop, family)
    channel = _channels.get(key)
    if channel is None:
        channel = _channels[key] = EchoChannel(loop, family)
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


class EchoChannel:
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
