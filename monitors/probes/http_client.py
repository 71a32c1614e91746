"""The aiohttp pieces the ``http`` probe runs on: a response that keeps the server's
certificate, a connector that connects only where the probe network policy allows, the TLS
transports a probe opened (aborted when it ends), and the capped, never-failing body read.

Part of the ``http`` monitor type (``monitors.probes.http``, whose docstring holds the
contract); plain Python, no Django.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
from contextvars import ContextVar

import aiohttp

from monitors import netpolicy

# The TLS transports the running probe opened (one list per probe call), so that ``probe`` can
# abort them when it ends. Released connections get a graceful TLS close that waits (up to 30 s)
# for the peer's close_notify; a dripping or silent server would keep that socket open past the
# probe, and past the short-lived event loop the engine runs batches on (an unclosed socket).
# Aborting is what aiohttp itself does to TLS connections when a connector closes.
TLS_TRANSPORTS: ContextVar[list[asyncio.BaseTransport] | None] = ContextVar(
    "nanomon_http_tls_transports", default=None
)


class CertificateResponse(aiohttp.ClientResponse):
    """A response that keeps the server's certificate (DER) from its own connection.

    Taken in ``start`` because that is the one moment the connection is certainly attached:
    aiohttp releases it as soon as the body is at EOF, which for HEAD, 204 or an empty body is
    before the caller ever sees the response. ``start`` runs once per hop of a redirect chain.
    """

    peer_certificate: bytes | None = None

    async def start(self, connection: aiohttp.connector.Connection) -> aiohttp.ClientResponse:
        transport = connection.transport
        ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
        if ssl_object is not None:
            # binary_form works with verification off, where getpeercert() returns {}.
            self.peer_certificate = ssl_object.getpeercert(binary_form=True)
            opened = TLS_TRANSPORTS.get()
            if opened is not None and transport is not None:
                opened.append(transport)
        return await super().start(connection)


class PolicyConnector(aiohttp.TCPConnector):
    """A connector that connects only where the probe network policy allows
    (``monitors.netpolicy``): the addresses its resolver returned are filtered before any
    connection is opened, for the first request and for every redirect hop (each hop opens a
    connection of its own: ``force_close``). The addresses checked are the very ones connected
    to, so a name that resolves to a denied address at probe time (DNS rebinding) is refused.
    """

    async def _resolve_host(self, host: str, port: int, traces=None) -> list:
        policy = netpolicy.current()
        policy.check_name(host)
        resolved = await super()._resolve_host(host, port, traces=traces)
        return policy.permitted(host, resolved, lambda entry: entry["host"])


async def read_capped(content: aiohttp.StreamReader, limit: int) -> bytes:
    """Up to ``limit`` bytes of the body; stops reading (without error) at the cap."""
    chunks: list[bytes] = []
    remaining = limit
    while remaining > 0:
        chunk = await content.read(remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def decode_body(raw: bytes, charset: str | None) -> str:
    """The body as text: the declared charset if Python knows it, else UTF-8; never fails."""
    encoding = "utf-8"  # also for unknown labels: the best guess on the web
    if charset:
        with contextlib.suppress(LookupError):
            encoding = codecs.lookup(charset).name
    return raw.decode(encoding, errors="replace")
