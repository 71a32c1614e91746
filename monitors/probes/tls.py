"""The ``tls`` monitor type: one TLS handshake (directly or after STARTTLS), and the server's
certificate read: how long it has left, who issued it, what it names.

Contract, plain data in and out:

* Target: ``host:port``, IPv6 as ``[addr]:port`` (as tcp: ``example.net:443``,
  ``mail.example.net:25`` with ``starttls=smtp``).
* Properties: ``timeout`` (5s: ONE deadline for the name lookup, the connect, the STARTTLS
  preamble and the handshake), ``starttls`` (``none``; ``smtp``, ``imap``, ``pop3``, ``ftp``,
  ``postgres``: the preambles are in ``monitors.probes.tls_starttls``), ``warningDays`` (14),
  ``validateTLS`` (true), ``serverName`` (the name sent as SNI and checked against the
  certificate; unset: the target's host).
* Outputs: ``respTime`` (ms from the start to the end of the handshake, also the value),
  ``certExpiryDays`` (the leaf's ``notAfter`` minus now, in days, 2 decimals, as http's),
  ``chainExpiryDays`` (the same for the earliest ``notAfter`` of the certificates the server
  presented, leaf included), ``expiringSoon`` (1 when ``certExpiryDays`` ≤ ``warningDays``,
  else 0), ``issuer`` and ``subject`` (RFC 4514: ``CN=R11,O=Let's Encrypt,C=US``), ``sans``
  (the DNS names and IP addresses of subjectAltName, joined by ``", "``), ``serial`` (upper
  case hex, as ``openssl x509 -serial``), ``tlsVersion`` (``TLSv1.3``) and ``cipher``
  (``TLS_AES_256_GCM_SHA384``).

The verdict, and why it is split this way. A probe cannot return Error: in NanoMon a run is
Failed when the check could not be made (``ProbeFailure``), and otherwise OK or Error as the
monitor's rule says (``monitors.engine.apply_rule``). So:

* **Failed**, raised here: the certificate is expired (``TLS certificate expired``), not yet
  valid (``TLS certificate not yet valid``), not trusted (``TLS certificate not trusted``) or
  does not name the server (``TLS hostname mismatch``), with the http probe's messages
  (``monitors.probes.http_errors.describe_certificate_error``). ``validateTLS=false`` skips
  trust and name, never the validity dates: they are checked here after the handshake.
* **Error**, by the rule: the probe measures ``expiringSoon`` against ``warningDays`` and the
  type's template rule is ``expiringSoon == 0``, so a new monitor is Error when its leaf expires
  within ``warningDays`` and the property alone moves the threshold. A monitor with another
  rule (``certExpiryDays > 30``, ``chainExpiryDays > 14``) decides for itself; with no rule it
  is never Error.

Edge cases, decided here once:

* Addresses are tried in resolver order until one connects (as tcp), only those the probe
  network policy allows (``monitors.netpolicy``); when it refuses them all the run fails with
  its reason. A TLS or STARTTLS failure on an address that connected is final.
* Trust: the system store plus ``NANOMON_HTTP_CA_BUNDLE``, the http probe's
  (``lib.tls.verifying_context``); ``validateTLS=false`` uses ``lib.tls.insecure_context``.
* The chain: Python 3.11 has no public way to read the certificates a server presented
  (``SSLObject.get_unverified_chain`` arrives in 3.13); its ``_sslobj.get_unverified_chain()``
  has existed since 3.10 and is used when present. Without either, the chain is the leaf alone
  and ``chainExpiryDays`` equals ``certExpiryDays``.
* Nothing is sent after the handshake: the connection is aborted (no close_notify wait), so no
  socket outlives the probe.
"""

from __future__ import annotations

import _ssl
import asyncio
import os
import ssl
import time
from collections.abc import Mapping
from datetime import UTC, datetime

from cryptography import x509

from lib.durations import format_seconds
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
    int_parser,
    parse_bool,
    parse_timeout,
)
from monitors.probes.http_errors import describe_certificate_error
from monitors.probes.tls_starttls import PREAMBLES, STARTTLS_CHOICES, open_plain
from monitors.targets import is_host_name, split_host_port

# Extra trusted CAs (a PEM file), shared with the http probe.
CA_BUNDLE_ENV = "NANOMON_HTTP_CA_BUNDLE"

_SECONDS_PER_DAY = 86400.0


def check_target(target: str) -> None:
    """Raise ``ValueError`` unless ``target`` is ``host:port`` or ``[ipv6]:port``."""
    split_host_port(target)


def parse_server_name(text: str) -> str:
    """A host name to send as SNI (an IP address cannot be one)."""
    name = text.strip()
    if not is_host_name(name):
        raise ValueError(f"must be a host name such as mail.example.net, got {text!r}")
    return name.rstrip(".")


def _ssl_context(validate: bool) -> ssl.SSLContext:
    if not validate:
        return insecure_context()
    bundle = os.environ.get(CA_BUNDLE_ENV) or None
    try:
        return verifying_context(bundle)
    except (OSError, ssl.SSLError) as error:
        raise ProbeFailure(f"cannot load {CA_BUNDLE_ENV}: {describe_error(error)}") from error


# --- Reading the certificates ------------------------------------------------------------------


def presented_chain(ssl_object: ssl.SSLObject) -> list[bytes]:
    """The certificates the server sent, leaf first, as DER; ``[]`` when Python cannot say
    (see the module docstring: 3.11's private ``get_unverified_chain``)."""
    getter = getattr(ssl_object, "get_unverified_chain", None)  # Python 3.13+
    if getter is None:
        getter = getattr(getattr(ssl_object, "_sslobj", None), "get_unverified_chain", None)
    if getter is None:
        return []
    try:
        certificates = getter() or []
    except (ValueError, ssl.SSLError):
        return []
    return [
        item if isinstance(item, bytes) else item.public_bytes(_ssl.ENCODING_DER)
        for item in certificates
    ]


def _days_until(moment: datetime, now: datetime) -> float:
    return round((moment - now).total_seconds() / _SECONDS_PER_DAY, 2)


def _sans(certificate: x509.Certificate) -> str:
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ""
    dns = names.get_values_for_type(x509.DNSName)
    addresses = [str(address) for address in names.get_values_for_type(x509.IPAddress)]
    return ", ".join([*dns, *addresses])


def _serial(certificate: x509.Certificate) -> str:
    text = f"{certificate.serial_number:X}"
    return text if len(text) % 2 == 0 else "0" + text


def certificate_outputs(
    leaf_der: bytes, chain_der: list[bytes], warning_days: float, now: datetime
) -> dict[str, OutputValue]:
    """The certificate outputs of the leaf and the presented chain; ``ProbeFailure`` when the
    leaf is expired or not yet valid (checked whatever ``validateTLS`` says)."""
    try:
        leaf = x509.load_der_x509_certificate(leaf_der)
        chain = [x509.load_der_x509_certificate(der) for der in chain_der] or [leaf]
    except ValueError:
        raise ProbeFailure("the server's certificate cannot be parsed") from None
    if now < leaf.not_valid_before_utc:
        raise ProbeFailure("TLS certificate not yet valid")
    if now > leaf.not_valid_after_utc:
        raise ProbeFailure("TLS certificate expired")
    expiry_days = _days_until(leaf.not_valid_after_utc, now)
    earliest = min(certificate.not_valid_after_utc for certificate in [leaf, *chain])
    return {
        "certExpiryDays": expiry_days,
        "chainExpiryDays": _days_until(earliest, now),
        "expiringSoon": 1.0 if expiry_days <= warning_days else 0.0,
        "issuer": leaf.issuer.rfc4514_string(),
        "subject": leaf.subject.rfc4514_string(),
        "sans": _sans(leaf),
        "serial": _serial(leaf),
    }


# --- The probe ---------------------------------------------------------------------------------


def _describe_tls_error(error: BaseException, timeout: float) -> str:
    if isinstance(error, TimeoutError):
        return f"timed out after {format_seconds(timeout)}"
    if isinstance(error, ssl.SSLCertVerificationError):
        return describe_certificate_error(error)
    if isinstance(error, ssl.SSLError):
        reason = (error.reason or "").replace("_", " ").lower()
        return f"TLS handshake failed ({reason})" if reason else "TLS handshake failed"
    if isinstance(error, ConnectionError):
        return "server closed the connection during the TLS handshake"
    return describe_error(error)


async def probe(target: str, properties: Mapping[str, object]) -> ProbeResult:
    """Connect to ``target``, run the ``starttls`` preamble and a TLS handshake under the one
    ``timeout`` deadline, and read the certificates; see the module docstring."""
    host, port = split_host_port(target)
    timeout = float(properties["timeout"])  # type: ignore[arg-type]
    preamble = PREAMBLES[str(properties["starttls"])]
    server_name = str(properties.get("serverName") or host)
    context = _ssl_context(bool(properties["validateTLS"]))
    writer: asyncio.StreamWriter | None = None
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await open_plain(host, port)
            await preamble(reader, writer)
            await writer.start_tls(
                context, server_hostname=server_name, ssl_handshake_timeout=timeout
            )
        elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
        ssl_object = writer.get_extra_info("ssl_object")
        leaf = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if not leaf:
            raise ProbeFailure("the server presented no certificate")
        chain = presented_chain(ssl_object)
        version = ssl_object.version() or ""
        cipher = (ssl_object.cipher() or ("",))[0]
    except ProbeFailure:
        raise
    except netpolicy.PolicyDenied as error:
        raise ProbeFailure(str(error)) from None
    except OSError as error:  # TimeoutError, ssl.SSLError and ConnectionError are OSErrors
        raise ProbeFailure(_describe_tls_error(error, timeout)) from None
    finally:
        if writer is not None:
            writer.transport.abort()
    warning_days = float(properties["warningDays"])  # type: ignore[arg-type]
    outputs = certificate_outputs(leaf, chain, warning_days, datetime.now(UTC))
    outputs.update(respTime=elapsed_ms, tlsVersion=version, cipher=cipher)
    return ProbeResult(value=elapsed_ms, outputs=outputs)


PROPERTIES = (
    PropertySpec(
        "timeout",
        "Deadline for the lookup, connect, STARTTLS and TLS handshake together, e.g. 5s.",
        default="5s",
        parse=parse_timeout,
    ),
    PropertySpec(
        "starttls",
        "Plaintext protocol to upgrade with STARTTLS first: none (TLS at once, e.g. 443, 465, "
        "993), smtp (25, 587), imap (143), pop3 (110), ftp (21) or postgres (5432).",
        default="none",
        choices=STARTTLS_CHOICES,
    ),
    PropertySpec(
        "warningDays",
        "Days before expiry from which expiringSoon is 1 (the template's rule then says Error).",
        default="14",
        parse=int_parser(0, 3650),
    ),
    PropertySpec(
        "validateTLS",
        "Check that a trusted CA issued the certificate for this name (true/false). false "
        "skips trust and name only: an expired or not yet valid certificate still fails.",
        default="true",
        parse=parse_bool,
    ),
    PropertySpec(
        "serverName",
        "Name to send as SNI and to check the certificate against (default: the target's host).",
        parse=parse_server_name,
    ),
)

OUTPUTS = (
    OutputSpec(
        "respTime",
        "number",
        "Milliseconds from the start until the TLS handshake finished (lookup, connect and "
        "STARTTLS included).",
        unit="ms",
    ),
    OutputSpec(
        "certExpiryDays",
        "number",
        "Days until the server's (leaf) certificate expires (2 decimals).",
        unit="days",
    ),
    OutputSpec(
        "chainExpiryDays",
        "number",
        "Days until the first certificate the server presented expires, leaf or "
        "intermediate (2 decimals).",
        unit="days",
    ),
    OutputSpec(
        "expiringSoon",
        "number",
        "1 when the leaf certificate expires within warningDays, else 0.",
    ),
    OutputSpec("issuer", "string", "The leaf's issuer, e.g. CN=R11,O=Let's Encrypt,C=US."),
    OutputSpec("subject", "string", "The leaf's subject, e.g. CN=example.net."),
    OutputSpec(
        "sans",
        "string",
        "The leaf's subjectAltName DNS names and IP addresses, comma-separated.",
    ),
    OutputSpec("serial", "string", "The leaf's serial number in hexadecimal, e.g. 03A1F2."),
    OutputSpec("tlsVersion", "string", "The protocol negotiated, e.g. TLSv1.3."),
    OutputSpec("cipher", "string", "The cipher suite negotiated, e.g. TLS_AES_256_GCM_SHA384."),
)

PROBE = ProbeType(
    kind="tls",
    label="TLS certificate",
    short_label="TLS",
    target_help="host:port serving TLS (or STARTTLS), IPv6 as [addr]:port, e.g. example.net:443",
    properties=PROPERTIES,
    outputs=OUTPUTS,
    check_target=check_target,
    probe=probe,
    template=MonitorTemplate(
        title="TLS certificate expiry",
        name="Certificate of example.net",
        target="example.net:443",
        interval="1h",
        rule="expiringSoon == 0",
        properties={"timeout": "5s", "warningDays": "14"},
        rule_examples=(
            "expiringSoon == 0",
            "certExpiryDays > 30 && chainExpiryDays > 14",
            "tlsVersion == 'TLSv1.3'",
            'issuer =~ "Let\'s Encrypt"',
        ),
    ),
    target_shape="host:port or [IPv6 address]:port",
)
