"""The ``tls`` probe's plaintext half: connecting where the probe network policy allows, and
the STARTTLS preambles that turn a plaintext session into one ready for the TLS handshake.

Part of the ``tls`` monitor type (``monitors.probes.tls``, whose docstring holds the contract);
plain Python, no Django. Each preamble reads the server's greeting, asks for TLS and checks the
answer; a refusal or an unexpected reply raises ``ProbeFailure`` quoting the server's first
line (cut to ``MAX_QUOTE`` characters), e.g. ``SMTP server refused STARTTLS: 454 TLS not
available``. Reads are line by line with asyncio's 64 KiB line limit and at most
``MAX_REPLY_LINES`` lines per reply; the caller's one deadline bounds the time.

=========  ==================================================================================
starttls   exchange
=========  ==================================================================================
smtp       greeting ``220``; ``EHLO [local address]`` → ``250`` listing STARTTLS; ``STARTTLS``
           → ``220`` (RFC 3207)
imap       greeting ``* OK``; ``a1 STARTTLS`` → ``a1 OK`` (RFC 9051 §6.2.1)
pop3       greeting ``+OK``; ``STLS`` → ``+OK`` (RFC 2595 §4)
ftp        greeting ``220``; ``AUTH TLS`` → ``234`` (RFC 4217 §4)
postgres   no greeting; the 8-byte SSLRequest → one byte, ``S`` (yes) or ``N`` (no)
=========  ==================================================================================
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import socket
import struct
from collections.abc import Awaitable, Callable

from monitors import netpolicy
from monitors.probes.base import ProbeFailure, describe_error
from monitors.targets import is_ip_address

STARTTLS_CHOICES = ("none", "smtp", "imap", "pop3", "ftp", "postgres")

MAX_REPLY_LINES = 100
MAX_QUOTE = 80

# PostgreSQL's SSLRequest: length 8, then the magic code 1234 << 16 | 5679.
POSTGRES_SSL_REQUEST = struct.pack("!II", 8, 80877103)

# (family, type, proto, canonname, sockaddr), as socket.getaddrinfo returns them.
AddressInfo = tuple[int, int, int, str, tuple]

_ERRNO_MESSAGES = {
    errno.ECONNREFUSED: "connection refused",
    errno.ENETUNREACH: "network unreachable",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ETIMEDOUT: "connection timed out",
    errno.ECONNRESET: "connection reset",
    errno.EACCES: "connection not permitted",
}


# --- Connecting --------------------------------------------------------------------------------


async def open_plain(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A plaintext stream to the first address of ``host`` that the probe network policy
    allows and that accepts the connection (resolver order, as the tcp probe); raises
    ``ProbeFailure`` (``could not resolve host``, ``connection refused``, …) or
    ``netpolicy.PolicyDenied``."""
    policy = netpolicy.current()
    policy.check_name(host)
    addresses = policy.permitted(host, await _resolve(host, port), lambda info: info[4][0])
    loop = asyncio.get_running_loop()
    first_error: OSError | None = None
    for family, kind, proto, _canonical, sockaddr in addresses:
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            await loop.sock_connect(sock, sockaddr)
            return await asyncio.open_connection(sock=sock)
        except OSError as error:
            sock.close()
            first_error = first_error or error
        except BaseException:  # cancelled (the deadline): never leak the socket
            sock.close()
            raise
    if first_error is None:
        raise ProbeFailure("could not resolve host")
    message = _ERRNO_MESSAGES.get(first_error.errno or 0) or describe_error(first_error)
    raise ProbeFailure(message)


async def _resolve(host: str, port: int) -> list[AddressInfo]:
    if is_ip_address(host):  # no thread pool for a literal: AI_NUMERICHOST never blocks
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    try:
        return await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise ProbeFailure("could not resolve host") from None


# --- Preambles ---------------------------------------------------------------------------------


def _quote(line: bytes) -> str:
    text = line.decode("utf-8", errors="replace").strip()
    return text if len(text) <= MAX_QUOTE else text[: MAX_QUOTE - 1] + "…"


async def _line(reader: asyncio.StreamReader, protocol: str) -> bytes:
    try:
        line = await reader.readline()
    except (asyncio.LimitOverrunError, ValueError):
        raise ProbeFailure(f"{protocol} server sent a line over 64 KiB") from None
    if not line:
        raise ProbeFailure(f"{protocol} server closed the connection before TLS")
    return line


async def _reply(reader: asyncio.StreamReader, protocol: str) -> list[bytes]:
    """An SMTP/FTP reply: ``NNN-text`` lines up to the final ``NNN text`` line."""
    lines = [await _line(reader, protocol)]
    while lines[-1][3:4] == b"-" and lines[-1][:3] == lines[0][:3]:
        if len(lines) >= MAX_REPLY_LINES:
            raise ProbeFailure(f"{protocol} server sent a reply over {MAX_REPLY_LINES} lines")
        lines.append(await _line(reader, protocol))
    return lines


async def _expect_code(
    reader: asyncio.StreamReader, protocol: str, code: bytes, what: str
) -> list[bytes]:
    lines = await _reply(reader, protocol)
    if not lines[0].startswith(code):
        raise ProbeFailure(f"{protocol} server {what}: {_quote(lines[0])}")
    return lines


async def _send(writer: asyncio.StreamWriter, data: bytes) -> None:
    writer.write(data)
    await writer.drain()


def _ehlo_name(writer: asyncio.StreamWriter) -> str:
    """Our own address as an SMTP address literal (RFC 5321 §4.1.3): ``[192.0.2.1]``."""
    local = writer.get_extra_info("sockname")
    address = ipaddress.ip_address(local[0].split("%")[0]) if local else None
    if address is None:
        return "[127.0.0.1]"
    return f"[IPv6:{address}]" if address.version == 6 else f"[{address}]"


async def _smtp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _expect_code(reader, "SMTP", b"220", "refused the session")
    await _send(writer, f"EHLO {_ehlo_name(writer)}\r\n".encode())
    lines = await _expect_code(reader, "SMTP", b"250", "refused EHLO")
    if not any(line[4:].strip().upper().startswith(b"STARTTLS") for line in lines):
        raise ProbeFailure("SMTP server does not offer STARTTLS")
    await _send(writer, b"STARTTLS\r\n")
    await _expect_code(reader, "SMTP", b"220", "refused STARTTLS")


async def _imap(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    greeting = await _line(reader, "IMAP")
    if not greeting.upper().startswith(b"* OK"):
        raise ProbeFailure(f"IMAP server refused the session: {_quote(greeting)}")
    await _send(writer, b"a1 STARTTLS\r\n")
    for _ in range(MAX_REPLY_LINES):  # untagged lines (* CAPABILITY …) may come first
        line = await _line(reader, "IMAP")
        if line.startswith(b"a1 "):
            if not line[3:].upper().startswith(b"OK"):
                raise ProbeFailure(f"IMAP server refused STARTTLS: {_quote(line)}")
            return
    raise ProbeFailure(f"IMAP server sent a reply over {MAX_REPLY_LINES} lines")


async def _pop3(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    greeting = await _line(reader, "POP3")
    if not greeting.startswith(b"+OK"):
        raise ProbeFailure(f"POP3 server refused the session: {_quote(greeting)}")
    await _send(writer, b"STLS\r\n")
    answer = await _line(reader, "POP3")
    if not answer.startswith(b"+OK"):
        raise ProbeFailure(f"POP3 server refused STLS: {_quote(answer)}")


async def _ftp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _expect_code(reader, "FTP", b"220", "refused the session")
    await _send(writer, b"AUTH TLS\r\n")
    await _expect_code(reader, "FTP", b"234", "refused AUTH TLS")


async def _postgres(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _send(writer, POSTGRES_SSL_REQUEST)
    answer = await reader.read(1)
    if answer == b"S":
        return
    if answer == b"N":
        raise ProbeFailure("PostgreSQL server does not accept TLS (answered N to SSLRequest)")
    if not answer:
        raise ProbeFailure("PostgreSQL server closed the connection before TLS")
    raise ProbeFailure(f"PostgreSQL server answered SSLRequest with {answer!r}")


async def _none(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    return None


PREAMBLES: dict[str, Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]] = {
    "none": _none,
    "smtp": _smtp,
    "imap": _imap,
    "pop3": _pop3,
    "ftp": _ftp,
    "postgres": _postgres,
}
