"""One plain GET under the ``http`` probe's rules, for the types that read a document over
HTTP (``prometheus``, ``prom_scrape``): one total deadline, the probe network policy's
connector, the same TLS contexts (``validateTLS``, ``NANOMON_HTTP_CA_BUNDLE``), Go's redirect
limit, a capped body read, the TLS transports aborted when it ends, and the ``http`` probe's
failure messages (``describe_failure``). Plain Python, no Django.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
from yarl import URL

from monitors import netpolicy
from monitors.probes.base import ProbeFailure
from monitors.probes.http import (
    DEFAULT_USER_AGENT,
    MAX_HEADER_LINE_BYTES,
    MAX_REDIRECTS,
    ssl_context,
)
from monitors.probes.http_client import (
    TLS_TRANSPORTS,
    CertificateResponse,
    PolicyConnector,
    read_capped,
)
from monitors.probes.http_errors import describe_failure


@dataclass(frozen=True)
class Fetched:
    """What a GET brought back: status, up to the cap of body bytes, the declared charset."""

    status: int
    body: bytes
    charset: str | None
    elapsed_ms: float  # from sending the request until the body was read
    truncated: bool  # the body was longer than the cap: ``body`` holds the cap's bytes


async def fetch(
    url: str | URL,
    *,
    timeout: float,
    validate_tls: bool,
    max_bytes: int,
    headers: Mapping[str, str] | None = None,
) -> Fetched:
    """GET ``url`` once, all of it within ``timeout`` seconds.

    Raises ``ProbeFailure`` with the ``http`` probe's messages (``connection refused``,
    ``timed out after 5s``, a policy refusal, …). Any HTTP status is returned, not raised.
    """
    sent = {"User-Agent": DEFAULT_USER_AGENT, **(headers or {})}
    opened_tls: list[asyncio.BaseTransport] = []
    opened_token = TLS_TRANSPORTS.set(opened_tls)
    try:
        context = ssl_context(validate_tls)
        async with asyncio.timeout(timeout):
            connector = PolicyConnector(ssl=context, force_close=True, limit=0, use_dns_cache=False)
            async with aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=timeout),
                response_class=CertificateResponse,
                max_line_size=MAX_HEADER_LINE_BYTES,
                max_field_size=MAX_HEADER_LINE_BYTES,
            ) as session:
                started = time.perf_counter()
                async with session.get(url, headers=sent, max_redirects=MAX_REDIRECTS) as response:
                    raw = await read_capped(response.content, max_bytes + 1)
                    elapsed_ms = (time.perf_counter() - started) * 1000.0
                    status = response.status
                    charset = response.charset
    except ProbeFailure:
        raise
    except netpolicy.PolicyDenied as error:
        raise ProbeFailure(str(error)) from None
    except (aiohttp.ClientError, OSError, UnicodeError) as error:
        raise ProbeFailure(describe_failure(error, timeout)) from error
    finally:
        TLS_TRANSPORTS.reset(opened_token)
        for transport in opened_tls:
            transport.abort()
    return Fetched(
        status=status,
        body=raw[:max_bytes],
        charset=charset,
        elapsed_ms=round(elapsed_ms, 3),
        truncated=len(raw) > max_bytes,
    )
