"""Local HTTP(S) servers and a private test PKI, for tests that probe real sockets.

Nothing here touches the network beyond loopback. Typical use::

    ca = new_ca()
    with serve_app(build_test_app(), ssl_context=server_context(issue_cert(ca, days=30))) as srv:
        ...probe srv.url("/ok") with NANOMON_HTTP_CA_BUNDLE=write_ca_bundle(ca, tmp_path)...

``serve_app`` runs an aiohttp application on its own event loop in a background thread, on a
free port chosen by the kernel, returns once the socket is listening (no sleeps), and stops it
cleanly on exit: in-flight handlers (a dripping body, say) get ``shutdown_timeout`` seconds to
finish and are then cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import socketserver
import ssl
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import trustme
from aiohttp import web

# Names a test certificate is valid for unless told otherwise: every way to reach loopback.
LOOPBACK_NAMES = ("127.0.0.1", "::1", "localhost")

# Seconds a test server waits for in-flight handlers when it stops.
SHUTDOWN_TIMEOUT = 0.5


# --- Certificates ------------------------------------------------------------------------------


def new_ca() -> trustme.CA:
    """A fresh private certificate authority (trusted by nothing until a test says so)."""
    return trustme.CA()


def issue_cert(
    ca: trustme.CA, *, days: float = 30, names: tuple[str, ...] = LOOPBACK_NAMES
) -> trustme.LeafCert:
    """A leaf certificate for ``names`` that expires ``days`` from now (negative: expired).

    It became valid a day before its expiry or before now, whichever is earlier, so an
    expired certificate is "expired" and never "not yet valid".
    """
    now = datetime.now(UTC)
    not_after = now + timedelta(days=days)
    not_before = min(now, not_after) - timedelta(days=1)
    return ca.issue_cert(*names, not_before=not_before, not_after=not_after)


def expired_cert(
    ca: trustme.CA, *, days_ago: float = 3, names: tuple[str, ...] = LOOPBACK_NAMES
) -> trustme.LeafCert:
    """A leaf certificate that expired ``days_ago`` days ago."""
    return issue_cert(ca, days=-days_ago, names=names)


def server_context(leaf: trustme.LeafCert) -> ssl.SSLContext:
    """A server-side SSL context presenting ``leaf`` (and its chain)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(context)
    return context


def write_ca_bundle(ca: trustme.CA, directory: Path) -> str:
    """Write ``ca``'s certificate as a PEM file in ``directory``; return its path."""
    path = directory / "test-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


# --- Servers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunningServer:
    """Where a test server listens."""

    host: str
    port: int
    scheme: str

    def url(self, path: str = "/") -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{path}"


class _ServerThread(threading.Thread):
    """Runs one aiohttp application on a private event loop until told to stop."""

    def __init__(
        self, app: web.Application, sock: socket.socket, ssl_context: ssl.SSLContext | None
    ):
        super().__init__(name="test-http-server", daemon=True)
        self._app = app
        self._sock = sock
        self._ssl_context = ssl_context
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None

    def run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        runner = web.AppRunner(self._app, shutdown_timeout=SHUTDOWN_TIMEOUT, access_log=None)
        try:
            await runner.setup()
            await web.SockSite(runner, self._sock, ssl_context=self._ssl_context).start()
            self._loop = asyncio.get_running_loop()
            self._stop_event = asyncio.Event()
        except Exception as error:  # reported to the starting thread by serve_app
            self.error = error
            self.ready.set()
            await runner.cleanup()
            return
        self.ready.set()
        try:
            await self._stop_event.wait()
        finally:
            await runner.cleanup()

    def stop(self) -> None:
        if self._loop is not None and self._stop_event is not None:
            self._loop.call_soon_threadsafe(self._stop_event.set)
        self.join(timeout=10)
        if self.is_alive():
            raise RuntimeError("test HTTP server did not stop within 10s")


@contextmanager
def serve_app(
    app: web.Application,
    *,
    host: str = "127.0.0.1",
    ssl_context: ssl.SSLContext | None = None,
    port: int = 0,
) -> Iterator[RunningServer]:
    """Serve ``app`` on ``host`` (``"::1"`` for IPv6) at a free port (or ``port``), plain or
    TLS. The same ``port`` on 127.0.0.1 and ::1 makes one ``http://name:port/`` of a name with
    both addresses reach a server over each family.

    An application can be served once (aiohttp freezes it): build a new one per server.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family)
    port = sock.getsockname()[1]
    thread = _ServerThread(app, sock, ssl_context)
    thread.start()
    if not thread.ready.wait(timeout=10):
        raise RuntimeError("test HTTP server did not start within 10s")
    if thread.error is not None:
        thread.join(timeout=10)
        raise RuntimeError("test HTTP server failed to start") from thread.error
    try:
        yield RunningServer(host=host, port=port, scheme="https" if ssl_context else "http")
    finally:
        thread.stop()
        sock.close()


def refused_port(host: str = "127.0.0.1") -> int:
    """A port on ``host`` that nothing listens on (bound, then closed, so it was just free)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


# --- A general-purpose test application ------------------------------------------------------


async def _ok(request: web.Request) -> web.Response:
    return web.Response(text="hello from the test server")


async def _status(request: web.Request) -> web.Response:
    code = int(request.match_info["code"])
    return web.Response(status=code, text=f"status {code}")


async def _echo(request: web.Request) -> web.Response:
    payload = {
        "method": request.method,
        "path": request.path_qs,
        "headers": dict(request.headers),
        "body": (await request.read()).decode("utf-8", errors="replace"),
    }
    return web.json_response(payload)


async def _text(request: web.Request) -> web.Response:
    return web.Response(text=request.query.get("text", ""))


async def _redirect(request: web.Request) -> web.Response:
    hops = int(request.match_info["hops"])
    if hops <= 0:
        return web.Response(text="arrived after redirects")
    raise web.HTTPFound(f"/redirect/{hops - 1}")


async def _redirect_to(request: web.Request) -> web.Response:
    raise web.HTTPFound(request.query["location"])


async def _loop(request: web.Request) -> web.Response:
    raise web.HTTPFound("/loop")


async def _sleep(request: web.Request) -> web.Response:
    await asyncio.sleep(float(request.query.get("seconds", "3")))
    return web.Response(text="slept")


async def _drip(request: web.Request) -> web.StreamResponse:
    interval = float(request.query.get("interval", "0.3"))
    duration = float(request.query.get("duration", "30"))
    response = web.StreamResponse()
    await response.prepare(request)
    loop = asyncio.get_running_loop()
    end = loop.time() + duration
    with contextlib.suppress(ConnectionResetError):  # the client gave up: expected here
        while loop.time() < end:
            await response.write(b".")
            await asyncio.sleep(interval)
    return response


async def _bytes(request: web.Request) -> web.StreamResponse:
    size = int(request.match_info["size"])
    response = web.StreamResponse()
    response.content_length = size
    await response.prepare(request)
    block = b"x" * 65536
    remaining = size
    with contextlib.suppress(ConnectionResetError):  # a capped client stops reading
        while remaining > 0:
            await response.write(block[:remaining])
            remaining -= len(block)
    return response


def build_test_app() -> web.Application:
    """A new application with these routes (any method unless noted):

    * ``/ok`` -> 200 ``hello from the test server``
    * ``/status/{code}`` -> that status code
    * ``/echo`` -> JSON ``{"method", "path", "headers", "body"}`` of the request
    * ``/text?text=...`` -> 200 with that text as the body
    * ``/redirect/{hops}`` -> a chain of ``hops`` 302 redirects, then 200
    * ``/redirect-to?location=...`` -> 302 to that location
    * ``/loop`` -> 302 to itself, forever
    * ``/sleep?seconds=3`` -> waits, then 200 (headers are late)
    * ``/drip?interval=0.3&duration=30`` -> 200 at once, then one byte per interval
    * ``/bytes/{size}`` -> exactly ``size`` bytes with a Content-Length
    """
    app = web.Application()
    app.router.add_route("*", "/ok", _ok)
    app.router.add_route("*", "/status/{code:\\d+}", _status)
    app.router.add_route("*", "/echo", _echo)
    app.router.add_route("*", "/text", _text)
    app.router.add_route("*", "/redirect/{hops:\\d+}", _redirect)
    app.router.add_route("*", "/redirect-to", _redirect_to)
    app.router.add_route("*", "/loop", _loop)
    app.router.add_route("*", "/sleep", _sleep)
    app.router.add_route("*", "/drip", _drip)
    app.router.add_route("*", "/bytes/{size:\\d+}", _bytes)
    return app


def echoed(body: str) -> dict[str, object]:
    """Decode the JSON body returned by ``/echo``."""
    return json.loads(body)


# --- Raw TCP servers, for replies no HTTP framework would send --------------------------------


@contextmanager
def serve_raw_reply(reply: bytes, *, reset: bool = False) -> Iterator[RunningServer]:
    """A loopback TCP server that reads a request's headers, sends ``reply`` and hangs up.

    ``reply=b""`` closes without answering; ``reset=True`` ends with a TCP RST (SO_LINGER 0)
    instead of an orderly close. Serves any number of connections until the block exits.
    """

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            connection: socket.socket = self.request
            received = b""
            while b"\r\n\r\n" not in received:
                chunk = connection.recv(65536)
                if not chunk:
                    break
                received += chunk
            if reply:
                connection.sendall(reply)
            if reset:
                # Close here: socketserver would shut down (FIN) first, and the peer would
                # see an orderly end of stream before the RST.
                connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                connection.close()

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="test-raw-server", daemon=True)
    thread.start()
    try:
        yield RunningServer(host="127.0.0.1", port=server.server_address[1], scheme="http")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
