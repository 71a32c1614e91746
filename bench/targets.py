"""Probe targets for the benchmarks, in a process of their own so their CPU never counts as
the prober's.

* **http**: a minimal HTTP/1.1 server (a bare asyncio protocol, far cheaper per request than a
  web framework) on several loopback addresses ``127.0.1.1 … 127.0.1.N``, so a prober's
  fresh connections spread over many address pairs. It reads the request head, waits
  ``http_delay`` seconds (the target's *true* latency), answers ``200 ok`` and closes.
* **tcp**: accepts and closes at once, on the same addresses.
* **dns**: a UDP server on ``127.0.0.1`` answering every ``A`` question with one record after
  ``dns_delay`` seconds (other types: an empty NOERROR answer). The record is data only.
* **ping** needs no server: the kernel answers echo requests to ``127.0.2.x`` itself.

Only loopback addresses are ever bound. ``TargetProcess`` starts the servers in a spawned
process and returns where they listen; use it as a context manager.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import signal
import socket
import struct
from dataclasses import dataclass, field
from types import TracebackType

HTTP_RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
    b"Connection: close\r\n\r\nok"
)
DNS_ANSWER_ADDRESS = bytes([10, 0, 0, 1])  # data only: nothing connects to it
START_TIMEOUT_SECONDS = 20


def loopback_address(index: int, third_octet: int = 1) -> str:
    """The ``index``-th loopback address ``127.<third_octet>.<x>.<y>`` (routed to lo on Linux)."""
    return f"127.{third_octet}.{index // 250}.{index % 250 + 1}"


def loopback_addresses(count: int, third_octet: int = 1) -> list[str]:
    """The first ``count`` loopback addresses ``127.<third_octet>.<x>.<y>``."""
    return [loopback_address(index, third_octet) for index in range(count)]


@dataclass(frozen=True)
class TargetConfig:
    """What to serve."""

    http_addresses: tuple[str, ...] = ()
    http_delay: float = 0.02
    tcp_addresses: tuple[str, ...] = ()
    dns: bool = False
    dns_delay: float = 0.005


@dataclass
class Endpoints:
    """Where the target process listens."""

    http: list[tuple[str, int]] = field(default_factory=list)
    tcp: list[tuple[str, int]] = field(default_factory=list)
    dns: tuple[str, int] | None = None
    pid: int = 0


class _HttpTarget(asyncio.Protocol):
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.answered = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.answered:
            return
        self.buffer += data
        if b"\r\n\r\n" in self.buffer:
            self.answered = True
            loop = asyncio.get_running_loop()
            if self.delay > 0:
                loop.call_later(self.delay, self._answer)
            else:
                self._answer()

    def _answer(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(HTTP_RESPONSE)
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


class _TcpTarget(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.close()


def dns_reply(query: bytes) -> bytes | None:
    """The answer to one DNS query: the question echoed, plus one A record when asked for A."""
    if len(query) < 17:
        return None
    (ident, flags, questions) = struct.unpack("!HHH", query[:6])
    if flags & 0x8000 or questions != 1:
        return None
    end = 12
    while end < len(query) and query[end] != 0:
        end += query[end] + 1
    end += 5  # the root label, then QTYPE and QCLASS
    if end > len(query):
        return None
    question = query[12:end]
    qtype = struct.unpack("!H", question[-4:-2])[0]
    answers = 1 if qtype == 1 else 0
    # QR, the query's opcode and RD, AA, RA; NOERROR.
    reply_flags = 0x8000 | (flags & 0x7900) | 0x0400 | 0x0080
    header = struct.pack("!HHHHHH", ident, reply_flags, 1, answers, 0, 0)
    if not answers:
        return header + question
    # A pointer to the question's name (offset 12), type A, class IN, TTL 60, 4 bytes of data.
    record = struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + DNS_ANSWER_ADDRESS
    return header + question + record


class _DnsTarget(asyncio.DatagramProtocol):
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        reply = dns_reply(data)
        if reply is None or self.transport is None:
            return
        if self.delay > 0:
            asyncio.get_running_loop().call_later(self.delay, self.transport.sendto, reply, addr)
        else:
            self.transport.sendto(reply, addr)


def _listening_socket(host: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    sock.listen(4096)
    sock.setblocking(False)
    return sock


async def _serve(config: TargetConfig, ready: multiprocessing.connection.Connection) -> None:
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stopping.set)
    loop.add_signal_handler(signal.SIGINT, stopping.set)
    endpoints = Endpoints(pid=multiprocessing.current_process().pid or 0)
    servers = []
    for host in config.http_addresses:
        sock = _listening_socket(host)
        servers.append(
            await loop.create_server(
                lambda: _HttpTarget(config.http_delay), sock=sock, backlog=4096
            )
        )
        endpoints.http.append((host, sock.getsockname()[1]))
    for host in config.tcp_addresses:
        sock = _listening_socket(host)
        servers.append(await loop.create_server(_TcpTarget, sock=sock, backlog=4096))
        endpoints.tcp.append((host, sock.getsockname()[1]))
    if config.dns:
        dns_socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # Room for bursts of concurrent queries (the default buffer holds ~250 of them).
        dns_socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        dns_socket.bind(("127.0.0.1", 0))
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _DnsTarget(config.dns_delay), sock=dns_socket
        )
        endpoints.dns = ("127.0.0.1", dns_socket.getsockname()[1])
    ready.send(endpoints)
    await stopping.wait()
    for server in servers:
        server.close()
    if config.dns:
        transport.close()


def _main(config: TargetConfig, ready: multiprocessing.connection.Connection) -> None:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(config, ready))


class TargetProcess:
    """The target servers in a spawned process: ``with TargetProcess(config) as endpoints``."""

    def __init__(self, config: TargetConfig) -> None:
        self.config = config
        context = multiprocessing.get_context("spawn")
        self._receiver, sender = context.Pipe(duplex=False)
        self.process = context.Process(
            target=_main, args=(config, sender), name="bench-targets", daemon=True
        )

    def __enter__(self) -> Endpoints:
        self.process.start()
        if not self._receiver.poll(START_TIMEOUT_SECONDS):
            self.process.kill()
            raise RuntimeError("the benchmark targets did not start")
        endpoints: Endpoints = self._receiver.recv()
        endpoints.pid = self.process.pid or 0
        return endpoints

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=5)
