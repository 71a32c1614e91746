"""TLS servers on loopback for the ``tls`` probe's tests: a server presenting a chosen
certificate, at once or after a fake STARTTLS preamble (imap, pop3, ftp, postgres; SMTP is
aiosmtpd's, ``tests.support.smtp_server``), or one that accepts and never answers.

Each server runs its own asyncio loop on a background thread, so a test (or the engine's
``run_checks_sync``) probes it from its own loop::

    with LoopbackTlsServer(server_context(leaf), preamble=imap_preamble) as server:
        probe(f"127.0.0.1:{server.port}", starttls="imap")

``chain_with_intermediate`` mints a root, an intermediate and a leaf with chosen validity
(cryptography directly: trustme cannot date an intermediate).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import ssl
import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

Preamble = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


# --- Fake STARTTLS preambles (the server's side) ------------------------------------------------


async def imap_preamble(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n")
    assert await reader.readline() == b"a1 STARTTLS\r\n"
    writer.write(b"* CAPABILITY IMAP4rev1\r\na1 OK Begin TLS negotiation now\r\n")


async def imap_refusing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"* OK ready\r\n")
    await reader.readline()
    writer.write(b"a1 BAD STARTTLS not available\r\n")


async def pop3_preamble(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"+OK POP3 ready\r\n")
    assert await reader.readline() == b"STLS\r\n"
    writer.write(b"+OK Begin TLS negotiation\r\n")


async def ftp_preamble(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"220-Welcome to the test FTP server\r\n220 Ready\r\n")
    assert await reader.readline() == b"AUTH TLS\r\n"
    writer.write(b"234 AUTH TLS successful\r\n")


async def postgres_preamble(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    assert await reader.readexactly(8) == b"\x00\x00\x00\x08\x04\xd2\x16\x2f"
    writer.write(b"S")


async def postgres_refusing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readexactly(8)
    writer.write(b"N")


# --- The server --------------------------------------------------------------------------------


class LoopbackTlsServer:
    """Listens on ``host`` (127.0.0.1) port ``port``. Each connection: ``preamble`` (if any),
    then the TLS handshake with ``context``, then it waits for the client to leave.
    ``context=None``: it never starts TLS (with no preamble either, it never says anything).
    ``connections`` counts the connections accepted, ``finished`` those the client ended."""

    def __init__(
        self,
        context: ssl.SSLContext | None,
        *,
        preamble: Preamble | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.context = context
        self.preamble = preamble
        self.host = host
        self.port = 0
        self.connections = 0
        self.finished = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="test-tls-server", daemon=True)

    def __enter__(self) -> LoopbackTlsServer:
        self._thread.start()
        if not self._ready.wait(5):
            raise RuntimeError("the test TLS server did not start")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(5)

    def target(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        tasks: set[asyncio.Task] = set()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            tasks.add(asyncio.current_task())  # type: ignore[arg-type]
            try:
                if self.preamble is not None:
                    await self.preamble(reader, writer)
                if self.context is not None:
                    await writer.start_tls(self.context)
                await reader.read()  # until the client leaves
            except (OSError, AssertionError, asyncio.IncompleteReadError):
                pass  # a refused handshake or a client that gave up: the test checks the probe
            finally:
                writer.transport.abort()
                self.finished += 1

        server = await asyncio.start_server(handle, self.host, 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await self._stop.wait()
            for task in tasks:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*tasks, return_exceptions=True)


# --- A chain with chosen validity (cryptography) -----------------------------------------------


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: str,
    issuer_key: ec.EllipticCurvePrivateKey,
    days: float,
    *,
    ca: bool,
) -> x509.Certificate:
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def chain_with_intermediate(
    directory: Path, *, intermediate_days: float, leaf_days: float
) -> tuple[ssl.SSLContext, str, x509.Certificate]:
    """A server context presenting leaf + intermediate, the root's PEM bundle path, and the
    intermediate certificate."""
    root_key, middle_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = _certificate("Test Root", root_key, "Test Root", root_key, 3650, ca=True)
    middle = _certificate(
        "Test Intermediate", middle_key, "Test Root", root_key, intermediate_days, ca=True
    )
    leaf = _certificate("localhost", leaf_key, "Test Intermediate", middle_key, leaf_days, ca=False)
    pem = serialization.Encoding.PEM
    (directory / "root.pem").write_bytes(root.public_bytes(pem))
    (directory / "chain.pem").write_bytes(leaf.public_bytes(pem) + middle.public_bytes(pem))
    (directory / "key.pem").write_bytes(
        leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(directory / "chain.pem", directory / "key.pem")
    return context, str(directory / "root.pem"), middle
