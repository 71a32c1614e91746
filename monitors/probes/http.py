"""The ``http`` monitor type: one HTTP(S) request, measured, under one total deadline.

Contract (``docs/contract.md`` §2, http row), plain data in and out:

* Target: an ``http://`` or ``https://`` URL with a host (IPv6 as ``http://[::1]:8080/``).
* Properties (all strings, declared in ``PROPERTIES``): ``method`` (GET), ``timeout`` (5s),
  ``validateTLS`` (true), ``body``, ``headers`` (a JSON object of strings), ``bodyRegex``,
  ``userAgent`` (``DEFAULT_USER_AGENT``), ``network`` (ip; ip4, ip6, both: see
  ``monitors.probes.families``, which also says how ``both`` is one result with ``respTime4``,
  ``respTime6``, ``status4``, ``status6``; its parsers are in ``http_properties``).
* Any HTTP response, 404 and 500 included, is a successful probe; rules judge status codes.
* Outputs (declared in ``OUTPUTS``): ``respTime`` (ms, also the value), ``status``, ``body``
  (transient: usable in rules, never stored), ``bodyLen``, ``certExpiryDays`` (https only) and
  ``regexMatch`` (when ``bodyRegex`` matched; a number replaces ``respTime`` as the value).
* Expected failures raise ``ProbeFailure`` with a short message (see ``describe_failure`` in
  ``monitors.probes.http_errors``; the aiohttp pieces are in ``monitors.probes.http_client``).

Edge cases, decided here once:

* ``timeout`` is ONE deadline for everything: DNS, connect, TLS, sending, headers, redirects
  and the body. A server that drips one byte at a time cannot stretch it.
* The body read stops after ``MAX_BODY_BYTES`` (1 MiB, or ``NANOMON_HTTP_MAX_BODY_BYTES``
  read once at import). That is not an error: ``bodyLen`` is the bytes read (so it equals the
  cap when the body was longer), ``body`` and ``bodyRegex`` see only those bytes, and
  ``respTime`` stops when the cap is reached. The cap counts decoded bytes (after gzip).
* Redirects are followed exactly as Go's default client (which NanoMon used) does: a chain of
  up to 9 redirects is followed, and the 10th redirect response fails with ``too many
  redirects``. The outputs describe the final response, including its certificate.
* ``validateTLS=false`` skips verification for this request only, through a separate
  module-level context; nothing global changes.
* ``certExpiryDays`` is the leaf certificate's ``notAfter`` minus now, in days as a float
  rounded to 2 decimals (about 15 minutes): integer days would hide "expires in 6 hours".
  It is reported with ``validateTLS=false`` too, negative for an expired certificate.
* Trust: the system store, plus the PEM bundle named by ``NANOMON_HTTP_CA_BUNDLE`` (see
  ``verifying_context``). Proxy variables (``HTTP_PROXY``…) and ``.netrc`` are ignored: the
  probe measures the target itself.
* Where it may connect is the probe network policy's to say (``monitors.netpolicy``): the
  connector keeps only the resolved addresses it allows, for the target and for every
  redirect, before anything is sent; when none is left the run fails with the reason
  (``address 169.254.169.254 is denied by the default link-local rule (…)``).
* ``bodyRegex`` is RE2 (Go's syntax, linear time; ``lib.regex``), searched in the
  (capped) decoded body on a thread of its own, within what is left of ``timeout`` (at least
  ``MIN_MATCH_SECONDS``): a match that takes longer fails the probe with ``bodyRegex did not
  finish within the timeout (5s)``, and the event loop and the other probes never wait for it.
* ``User-Agent``: the ``userAgent`` property, else one given in ``headers``, else
  ``DEFAULT_USER_AGENT``. A ``body`` is sent as UTF-8 with only the Content-Type given in
  ``headers`` (none is invented, as in Go).
* ``respTime`` is a float in ms rounded to 0.001; ``status`` and ``bodyLen`` are floats too
  (rules compare numbers as floats).
* No TLS connection outlives the probe: those it opened are aborted when it ends.

Performance: each probe gets its own ``ClientSession`` and a fresh ``TCPConnector`` with
``force_close=True``, so every probe measures a real DNS lookup, connect and TLS handshake and
nothing outlives the probe (the engine runs batches on short-lived loops, so a shared session
would have no safe owner). The costly parts are shared: both SSL contexts are built once per
process (loading the CA store takes milliseconds), and the connector's DNS cache is off
because a fresh connector could never hit it. Measured on loopback, plain HTTP: about 0.35 ms
of CPU per probe, of which creating and closing the session and connector is under a tenth.
"""

from __future__ import annotations

import asyncio
import math
import os
import re
import ssl
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import urlsplit

import aiohttp
from cryptography import x509
from multidict import CIMultiDict

from lib.durations import format_seconds
from lib.regex import MatchTimeout, Regex, run_bounded
from lib.tls import insecure_context, verifying_context
from monitors import netpolicy
from monitors.probes.base import (
    MonitorTemplate,
    OutputSpec,
    OutputValue,
    ProbeFailure,
    ProbeResult,
    ProbeType,
    PropertySpec,
    describe_error,
    parse_bool,
    parse_timeout,
)
from monitors.probes.families import (
    FAMILY,
    NETWORK,
    check_target_network,
    literal_problem,
    over_both,
    per_family_outputs,
)
from monitors.probes.http_client import (
    TLS_TRANSPORTS,
    CertificateResponse,
    PolicyConnector,
    decode_body,
    read_capped,
)
from monitors.probes.http_errors import describe_failure
from monitors.probes.http_properties import (
    parse_body_regex,
    parse_headers,
    parse_method,
    parse_user_agent,
)

DEFAULT_USER_AGENT = "NanoMon/0.1"

MAX_BODY_BYTES_ENV = "NANOMON_HTTP_MAX_BODY_BYTES"
DEFAULT_MAX_BODY_BYTES = 1024 * 1024

# Extra trusted CAs (a PEM file) added to the system store for validating probes.
CA_BUNDLE_ENV = "NANOMON_HTTP_CA_BUNDLE"

# Passed to aiohttp as ``max_redirects``: the 10th redirect response fails, as in Go.
MAX_REDIRECTS = 10

# aiohttp refuses header lines over 8190 bytes by default; real sites send longer ones
# (Content-Security-Policy, cookies), and Go accepts up to 1 MB of headers. 64 KiB per line
# keeps such sites measurable without letting a hostile server make us buffer much.
MAX_HEADER_LINE_BYTES = 64 * 1024

# A plain decimal number (what Go's ParseFloat accepts, minus hex, inf and nan).
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")

_SECONDS_PER_DAY = 86400.0

# The least time a bodyRegex search gets when the response used up (nearly) all the timeout:
# well under the engine's grace, so the probe still ends before the engine gives up on it.
MIN_MATCH_SECONDS = 0.25


def max_body_bytes_from_environ(environ: Mapping[str, str]) -> int:
    """The body read cap: ``NANOMON_HTTP_MAX_BODY_BYTES`` if set, else 1 MiB.

    A value that is not a whole number greater than zero raises ``ValueError`` naming the
    variable: a typo must stop the worker at start-up, not silently change every probe.
    """
    raw = environ.get(MAX_BODY_BYTES_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_BODY_BYTES
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise ValueError(
            f"{MAX_BODY_BYTES_ENV} must be a whole number of bytes greater than 0, got {raw!r}"
        )
    return value


MAX_BODY_BYTES = max_body_bytes_from_environ(os.environ)


def check_target(target: str) -> None:
    """Raise ``ValueError`` unless ``target`` is an http:// or https:// URL with a host."""
    try:
        parts = urlsplit(target)
        parts.port  # noqa: B018  (raises ValueError for a port that is not 0-65535)
    except ValueError as error:
        raise ValueError(f"invalid URL: {error}") from None
    if parts.scheme.lower() not in {"http", "https"}:
        raise ValueError("must be an http:// or https:// URL")
    if not parts.hostname:
        raise ValueError("URL has no host")


# --- TLS contexts (lib/tls.py: shared with the email channel) ----------------------------------


def ssl_context(validate: bool) -> ssl.SSLContext:
    if not validate:
        return insecure_context()
    bundle = os.environ.get(CA_BUNDLE_ENV) or None
    try:
        return verifying_context(bundle)
    except (OSError, ssl.SSLError) as error:
        # Not cached (lru_cache keeps no exceptions): fixing the file fixes the next probe.
        raise ProbeFailure(f"cannot load {CA_BUNDLE_ENV}: {describe_error(error)}") from error


# --- The probe ---------------------------------------------------------------------------------


def _regex_match(pattern: Regex, body: str) -> OutputValue | None:
    """Group 1 of the first match (the whole match without groups); a float if numeric.

    A group that did not take part in the match gives ``""`` (as Go's FindStringSubmatch).
    Numbers are plain decimals, surrounding whitespace allowed; ``inf``/``nan`` stay strings.
    """
    text = pattern.first_group(body)
    if text is None:
        return None
    candidate = text.strip()
    if _NUMBER.fullmatch(candidate):
        number = float(candidate)
        if math.isfinite(number):
            return number
    return text


def _match_timeout_message(error: MatchTimeout, timeout: float) -> str:
    if error.still_running:
        return "bodyRegex: an earlier search with this pattern is still running past its timeout"
    return f"bodyRegex did not finish within the timeout ({format_seconds(timeout)})"


def _cert_expiry_days(der: bytes) -> float:
    not_after = x509.load_der_x509_certificate(der).not_valid_after_utc
    return round((not_after - datetime.now(UTC)).total_seconds() / _SECONDS_PER_DAY, 2)


def check_target_properties(target: str, properties: Mapping[str, object]) -> None:
    """An address literal must be of a family ``network`` allows (``both``: a name)."""
    check_target_network(_url_host(target), str(properties.get("network") or "ip"))


def _url_host(target: str) -> str:
    """The URL's host (no brackets), or "" when the URL does not parse (the request says why)."""
    try:
        return urlsplit(target).hostname or ""
    except ValueError:
        return ""


async def probe(target: str, properties: Mapping[str, object]) -> ProbeResult:
    """Request ``target`` once with ``properties`` as returned by ``PROBE.parse_properties``.

    Returns the outputs described in the module docstring; raises ``ProbeFailure`` with a
    short message for network, DNS, TLS, protocol and timeout errors. Never takes longer than
    the ``timeout`` property (plus the time to close the sockets, and up to
    ``MIN_MATCH_SECONDS`` for ``bodyRegex`` when the response used up the timeout).
    ``network=both``: one request over each family at once (``monitors.probes.families``).
    """
    network = str(properties.get("network") or "ip")
    if (problem := literal_problem(_url_host(target), network)) is not None:
        raise ProbeFailure(problem)
    if network == "both":
        return await over_both(lambda over: _request(target, properties, over), PER_FAMILY)
    return await _request(target, properties, network)


async def _request(target: str, properties: Mapping[str, object], network: str) -> ProbeResult:
    timeout = float(properties["timeout"])  # type: ignore[arg-type]
    method = str(properties["method"])
    request_body = properties.get("body")
    pattern = properties.get("bodyRegex")
    headers: CIMultiDict[str] = CIMultiDict(properties.get("headers") or {})  # type: ignore[arg-type]
    # Precedence: the userAgent property, then a User-Agent in headers, then ours.
    if user_agent := properties.get("userAgent"):
        headers["User-Agent"] = str(user_agent)
    elif "User-Agent" not in headers:
        headers["User-Agent"] = DEFAULT_USER_AGENT

    loop = asyncio.get_running_loop()
    probe_started = loop.time()
    opened_tls: list[asyncio.BaseTransport] = []
    opened_token = TLS_TRANSPORTS.set(opened_tls)
    try:
        context = ssl_context(bool(properties["validateTLS"]))
        async with asyncio.timeout(timeout):
            connector = PolicyConnector(
                ssl=context,
                force_close=True,
                limit=0,
                use_dns_cache=False,
                family=FAMILY[network],
            )
            async with aiohttp.ClientSession(
                connector=connector,
                # aiohttp's own total timeout as well: its errors then carry the same meaning.
                timeout=aiohttp.ClientTimeout(total=timeout),
                response_class=CertificateResponse,
                # Send only the Content-Type the user declared, as Go does (no octet-stream).
                skip_auto_headers=("Content-Type",),
                max_line_size=MAX_HEADER_LINE_BYTES,
                max_field_size=MAX_HEADER_LINE_BYTES,
            ) as session:
                started = time.perf_counter()
                async with session.request(
                    method,
                    target,
                    headers=headers,
                    data=str(request_body).encode() if request_body is not None else None,
                    max_redirects=MAX_REDIRECTS,
                ) as response:
                    raw = await read_capped(response.content, MAX_BODY_BYTES)
                    elapsed_ms = (time.perf_counter() - started) * 1000.0
                    status = response.status
                    charset = response.charset
                    certificate = response.peer_certificate  # type: ignore[attr-defined]
    except ProbeFailure:
        raise
    except netpolicy.PolicyDenied as error:
        raise ProbeFailure(str(error)) from None
    # TimeoutError and SSLError are OSErrors; UnicodeError comes from IDNA-encoding the host.
    except (aiohttp.ClientError, OSError, UnicodeError) as error:
        raise ProbeFailure(describe_failure(error, timeout)) from error
    finally:
        TLS_TRANSPORTS.reset(opened_token)
        for transport in opened_tls:
            transport.abort()  # a no-op for one that already finished closing

    body = decode_body(raw, charset)
    outputs: dict[str, OutputValue] = {
        "respTime": round(elapsed_ms, 3),
        "status": float(status),
        "body": body,
        "bodyLen": float(len(raw)),
    }
    if certificate:
        outputs["certExpiryDays"] = _cert_expiry_days(certificate)
    value = outputs["respTime"]
    if isinstance(pattern, Regex):
        # On its own thread (RE2 releases the GIL) and within what is left of the timeout.
        budget = max(timeout - (loop.time() - probe_started), MIN_MATCH_SECONDS)
        try:
            matched = await run_bounded(
                _regex_match, pattern, body, timeout=budget, key=("bodyRegex", pattern.source)
            )
        except MatchTimeout as error:
            raise ProbeFailure(_match_timeout_message(error, timeout)) from None
        if matched is not None:
            outputs["regexMatch"] = matched
            if isinstance(matched, float):
                value = matched
    return ProbeResult(value=float(value), outputs=outputs)


# validateTLS, as every HTTP-based type declares it (http, prometheus, prom_scrape).
VALIDATE_TLS = PropertySpec(
    "validateTLS",
    "Check the server certificate (true/false). false skips it for this monitor only.",
    default="true",
    parse=parse_bool,
)

PROPERTIES = (
    PropertySpec(
        "method",
        "HTTP method to send, e.g. GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS.",
        default="GET",
        parse=parse_method,
    ),
    PropertySpec(
        "timeout",
        "Deadline for the whole request, body included, as a duration (500ms, 5s).",
        default="5s",
        parse=parse_timeout,
    ),
    VALIDATE_TLS,
    PropertySpec("body", "Request body to send, as text (UTF-8).", secret=True),
    PropertySpec(
        "headers",
        'Request headers as a JSON object of strings, e.g. {"Authorization": "Bearer …"}.',
        parse=parse_headers,
        secret=True,
    ),
    PropertySpec(
        "bodyRegex",
        "Regular expression (RE2, Go's syntax) searched in the body; group 1 (or the whole "
        "match) becomes the regexMatch output, and the result value when it is a number.",
        parse=parse_body_regex,
    ),
    PropertySpec(
        "userAgent",
        f"User-Agent header to send (default {DEFAULT_USER_AGENT}).",
        parse=parse_user_agent,
    ),
    NETWORK,
)

OUTPUTS = (
    OutputSpec(
        "respTime", "number", "Milliseconds from the start until the body was read.", unit="ms"
    ),
    OutputSpec("status", "number", "HTTP status code of the final response."),
    OutputSpec("body", "string", "Response body as text (capped; usable in rules, not stored)."),
    OutputSpec("bodyLen", "number", "Bytes of body read (at most the configured cap).", unit="B"),
    OutputSpec(
        "certExpiryDays",
        "number",
        "https only: days until the server certificate expires (2 decimals; negative if "
        "expired), also when validateTLS is false.",
        unit="days",
    ),
    OutputSpec(
        "regexMatch",
        "string",
        "Group 1 (or the whole match) of bodyRegex; a number when it parses as one. "
        "Absent when bodyRegex did not match.",
    ),
)
PER_FAMILY = ("respTime", "status")
OUTPUTS += per_family_outputs(OUTPUTS, PER_FAMILY)

PROBE = ProbeType(
    kind="http",
    label="HTTP",
    short_label="HTTP",
    target_help="URL to request, http:// or https://, e.g. https://example.net/health",
    properties=PROPERTIES,
    outputs=OUTPUTS,
    check_target=check_target,
    probe=probe,
    template=MonitorTemplate(
        title="Website or HTTP API",
        name="My website",
        target="https://example.net/",
        interval="30s",
        rule="status >= 200 && status < 300 && respTime < 2000",
        properties={"timeout": "5s"},
        rule_examples=(
            "status == 200",
            "status == 200 && respTime < 500",
            "body =~ 'healthy'",
            "certExpiryDays > 14",
        ),
    ),
    transient_outputs=frozenset({"body"}),
    target_shape="http://host[:port]/path or https://host[:port]/path",
    check_target_properties=check_target_properties,
)
