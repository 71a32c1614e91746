"""The ``dns`` monitor type: look a name up over UDP and report the records as strings.

Contract (``docs/contract.md`` §2, dns row), plain data in and out:

* Target: the name to look up (``example.net``; for ``type=PTR`` an IP address works too and
  is turned into its ``in-addr.arpa``/``ip6.arpa`` name). The name is looked up as written,
  absolute: no search domains are appended.
* Properties (declared in ``PROPERTIES``): ``timeout`` (2s), ``type`` (A), ``server`` (unset:
  the name servers in /etc/resolv.conf), ``network`` (unset).
* Outputs: ``respTime`` (ms, also the value), ``resultCount``, and ``result1`` … ``resultN``,
  one string per record.
* Expected failures raise ``ProbeFailure``: ``no such domain (NXDOMAIN)``, ``no records of
  type MX``, ``timed out after 2s``, ``server refused the query (REFUSED)``, ``server failure
  (SERVFAIL)``, ``could not resolve DNS server …``.

How records read (``format_record``), matching what NanoMon (Go's resolver) produced where it
had the type: A/AAAA the address (``10.0.0.1``, ``2001:db8::1``); CNAME, NS and PTR the target
name with its trailing dot (``www.example.net.``); MX ``host pref`` (``mail.example.net. 10``),
sorted by preference as Go's ``LookupMX``; TXT the record's strings joined without separator
(UTF-8); SOA, SRV and CAA their zone-file text (``10 5 5060 sip.example.net.``,
``0 issue "ca.example"``), SRV sorted by priority then weight (heaviest first). An A or AAAA
lookup follows CNAME chains and reports the final addresses (as Go's ``LookupIP``); a CNAME
lookup reports the CNAME record itself (one hop), failing with ``no records of type CNAME`` for
a name that is not an alias (Go returned the name itself there).

``type`` and ``network`` together (``lookups_for``): ``network`` only matters for address
lookups (type A or AAAA) and is ignored for the other types. Unset, the type alone decides (A
asks for A records, AAAA for AAAA). Set, it decides which address records are asked for,
whichever of A and AAAA was given, as NanoMon's ``LookupIP(network, …)`` did: ``ip4`` → A,
``ip6`` → AAAA, ``ip`` → A and AAAA queried concurrently, results merged A first. With ``ip``,
the run fails only when neither lookup found anything (NXDOMAIN wins over other errors).

A ``server`` is asked only where the probe network policy allows (``monitors.netpolicy``):
``DNS server: address 169.254.169.254 is denied by …`` otherwise. The servers of
/etc/resolv.conf are the operator's own and are not held to it.

Deadline: ``timeout`` bounds the whole probe, including resolving a ``server`` given as a host
name: the resolver's ``lifetime`` is whatever remains of it, so dnspython never retries past
it. Queries go over UDP (``tcp=False``), falling back to TCP only when the answer is truncated.
With several name servers (from /etc/resolv.conf) each attempt gets an equal share of the
timeout, so one dead server does not use up the whole budget.

Performance: configured resolvers are cached per (servers, port, timeout) and shared by
concurrent probes (a dnspython resolver holds no per-query state and has no cache here), and
/etc/resolv.conf is read again only when it changes.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import cast

import dns.asyncresolver
import dns.exception
import dns.name
import dns.rcode
import dns.rdata
import dns.rdatatype
import dns.resolver
import dns.reversename

from lib.durations import format_seconds
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
    parse_timeout,
)
from monitors.targets import is_ip_address, split_host_port

RECORD_TYPES = ("A", "AAAA", "CNAME", "TXT", "MX", "NS", "SOA", "SRV", "PTR", "CAA")
NETWORKS = ("ip", "ip4", "ip6")
DEFAULT_PORT = 53
RESOLV_CONF = "/etc/resolv.conf"


@dataclass(frozen=True)
class DnsServer:
    """A ``server`` property: a host (name or IP address, no brackets) and a UDP port."""

    host: str
    port: int = DEFAULT_PORT


def parse_record_type(text: str) -> str:
    """One of ``RECORD_TYPES``, any case (``mx`` → ``MX``)."""
    record_type = text.strip().upper()
    if record_type not in RECORD_TYPES:
        raise ValueError(f"must be one of {', '.join(RECORD_TYPES)}, got {text!r}")
    return record_type


def parse_server(text: str) -> DnsServer:
    """``host``, ``host:port``, an IPv6 address, or ``[ipv6]:port``; the port defaults to 53."""
    if is_ip_address(text):
        return DnsServer(text)
    if text.startswith("[") or ":" in text:
        host, port = split_host_port(text)
        return DnsServer(host, port)
    # A bare host name: reuse the host:port checks with the default port.
    host, _ = split_host_port(f"{text}:{DEFAULT_PORT}")
    return DnsServer(host)


PROPERTIES = (
    PropertySpec(
        "timeout",
        "Deadline for the whole lookup, e.g. 2s or 500ms.",
        default="2s",
        parse=parse_timeout,
    ),
    PropertySpec(
        "type",
        f"Record type to look up, any case: {', '.join(RECORD_TYPES)}.",
        default="A",
        parse=parse_record_type,
    ),
    PropertySpec(
        "server",
        "DNS server to ask: host, host:port, or [IPv6]:port (port 53 by default). "
        "Unset: the servers in /etc/resolv.conf.",
        parse=parse_server,
    ),
    PropertySpec(
        "network",
        "For A/AAAA lookups only: ip4 asks for A records, ip6 for AAAA, ip for both (A first). "
        "Unset: the type alone decides.",
        choices=NETWORKS,
    ),
)

OUTPUTS = (
    OutputSpec("respTime", "number", "Milliseconds the lookup took.", unit="ms"),
    OutputSpec("resultCount", "number", "Number of records found."),
    OutputSpec(
        "result1",
        "string",
        "The first record as text; result2, result3, … hold the others, in order.",
        numbered=True,
    ),
)

_NAME_CHARACTERS = re.compile(r"[\w.*-]+")


def check_target(target: str) -> None:
    """Raise ``ValueError`` unless ``target`` is a DNS name (or an IP address, for PTR)."""
    if not target:
        raise ValueError("empty target")
    if is_ip_address(target):
        return
    if not _NAME_CHARACTERS.fullmatch(target):
        raise ValueError(f"{target!r} is not a DNS name")
    try:
        dns.name.from_text(target)
    except (dns.exception.DNSException, UnicodeError) as error:
        raise ValueError(f"{target!r} is not a DNS name: {describe_error(error)}") from None


def check_target_properties(target: str, properties: Mapping[str, object]) -> None:
    """Raise ``ValueError`` for an IP address looked up with another type than PTR: it would
    be queried as a name (``10.0.0.1.``) and never be found."""
    if is_ip_address(target) and properties.get("type") != "PTR":
        raise ValueError(
            f"{target!r} is an IP address: only type PTR looks an address up, "
            f"not {properties.get('type')}"
        )


def lookups_for(record_type: str, network: str | None) -> tuple[str, ...]:
    """The record types actually queried for ``type`` and ``network`` (module docstring)."""
    if record_type not in ("A", "AAAA") or network is None:
        return (record_type,)
    return {"ip4": ("A",), "ip6": ("AAAA",), "ip": ("A", "AAAA")}[network]


def query_name(target: str, record_type: str) -> dns.name.Name:
    """The absolute name to query; for PTR an IP address becomes its reverse name."""
    if record_type == "PTR" and is_ip_address(target):
        return dns.reversename.from_address(target.split("%", 1)[0])
    return dns.name.from_text(target)


def format_record(rdata: dns.rdata.Rdata) -> str:
    """One record as the string a rule compares against (module docstring)."""
    kind = rdata.rdtype
    if kind in (dns.rdatatype.A, dns.rdatatype.AAAA):
        return rdata.address
    if kind in (dns.rdatatype.CNAME, dns.rdatatype.NS, dns.rdatatype.PTR):
        return rdata.target.to_text()
    if kind == dns.rdatatype.MX:
        return f"{rdata.exchange.to_text()} {rdata.preference}"
    if kind == dns.rdatatype.TXT:
        return b"".join(rdata.strings).decode("utf-8", "replace")
    return rdata.to_text()


def _ordered(records: Sequence[dns.rdata.Rdata]) -> list[dns.rdata.Rdata]:
    """Answer order, except MX by preference and SRV by priority then weight (as Go)."""
    if records and records[0].rdtype == dns.rdatatype.MX:
        return sorted(records, key=lambda record: record.preference)
    if records and records[0].rdtype == dns.rdatatype.SRV:
        return sorted(records, key=lambda record: (record.priority, -record.weight))
    return list(records)


async def probe(target: str, properties: Mapping[str, object]) -> ProbeResult:
    """Look ``target`` up under one ``timeout`` deadline; see the module docstring."""
    timeout = float(properties["timeout"])
    record_type = str(properties["type"])
    server = cast(DnsServer | None, properties["server"])
    network = cast(str | None, properties["network"])
    loop = asyncio.get_running_loop()
    ends_at = loop.time() + timeout
    try:
        async with asyncio.timeout_at(ends_at):
            nameservers, port = await _nameservers(server)
            resolver = _resolver(nameservers, port, timeout)
            started = time.perf_counter()
            records = await _lookup(
                resolver, target, lookups_for(record_type, network), ends_at - loop.time()
            )
            elapsed = round((time.perf_counter() - started) * 1000, 3)
    except TimeoutError:
        raise ProbeFailure(f"timed out after {format_seconds(timeout)}") from None
    outputs: dict[str, OutputValue] = {"respTime": elapsed, "resultCount": len(records)}
    for index, record in enumerate(records, start=1):
        outputs[f"result{index}"] = record
    return ProbeResult(value=elapsed, outputs=outputs)


async def _lookup(
    resolver: dns.asyncresolver.Resolver,
    target: str,
    record_types: tuple[str, ...],
    lifetime: float,
) -> list[str]:
    """The records of every type (queried concurrently), in type order; ProbeFailure when
    none was found."""
    outcomes = await asyncio.gather(
        *(_lookup_one(resolver, target, record_type, lifetime) for record_type in record_types),
        return_exceptions=True,
    )
    records = [record for outcome in outcomes if isinstance(outcome, list) for record in outcome]
    if records:
        return records
    failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    for failure in failures:
        if isinstance(failure, dns.resolver.NXDOMAIN):
            raise ProbeFailure("no such domain (NXDOMAIN)")
    for failure in failures:
        if not isinstance(failure, dns.resolver.NoAnswer):
            raise _failure_for(failure) from None
    raise ProbeFailure(f"no records of type {' or '.join(record_types)}")


async def _lookup_one(
    resolver: dns.asyncresolver.Resolver, target: str, record_type: str, lifetime: float
) -> list[str]:
    answer = await resolver.resolve(
        query_name(target, record_type),
        record_type,
        tcp=False,
        lifetime=lifetime,
        search=False,
    )
    return [format_record(rdata) for rdata in _ordered(list(answer))]


def _failure_for(error: BaseException) -> BaseException:
    """The exception to raise for a failed lookup: a ProbeFailure, a TimeoutError (reported
    by ``probe`` with the timeout), or the error itself when it is a probe bug."""
    if isinstance(error, dns.exception.Timeout):  # LifetimeTimeout included
        return TimeoutError()
    if isinstance(error, dns.resolver.NoNameservers):
        return ProbeFailure(_describe_server_errors(error.kwargs.get("errors") or []))
    if isinstance(error, dns.resolver.YXDOMAIN):
        return ProbeFailure("name too long after DNAME substitution (YXDOMAIN)")
    if isinstance(error, dns.exception.DNSException):
        return ProbeFailure(describe_error(error))
    return error


def _describe_server_errors(errors: Sequence[tuple]) -> str:
    """What the last server said, from dnspython's (server, tcp, port, error, response)."""
    for *_, problem, response in reversed(errors):
        if response is not None:
            rcode = response.rcode()
            if rcode == dns.rcode.REFUSED:
                return "server refused the query (REFUSED)"
            if rcode == dns.rcode.SERVFAIL:
                return "server failure (SERVFAIL)"
            return f"server answered {dns.rcode.to_text(rcode)}"
        if isinstance(problem, ConnectionRefusedError):
            return "no DNS server listening (connection refused)"
        if isinstance(problem, OSError):
            return f"cannot reach DNS server: {describe_error(problem)}"
        if problem is not None:
            return f"bad answer from DNS server: {describe_error(problem)}"
    return "no DNS server answered"


async def _nameservers(server: DnsServer | None) -> tuple[tuple[str, ...], int]:
    """(server addresses, port) to ask: the ``server`` property, or /etc/resolv.conf."""
    if server is None:
        return _system_nameservers()  # the operator's own: not held to the policy
    # A server given by the monitor is asked only where the probe network policy allows.
    policy = netpolicy.current()
    try:
        policy.check_name(server.host)
        if is_ip_address(server.host):
            return (server.host,), server.port
        loop = asyncio.get_running_loop()
        try:
            addresses = await loop.getaddrinfo(server.host, server.port, type=socket.SOCK_DGRAM)
        except socket.gaierror:
            raise ProbeFailure(f"could not resolve DNS server {server.host}") from None
        allowed = policy.permitted(server.host, addresses, lambda info: info[4][0])
    except netpolicy.PolicyDenied as error:
        raise ProbeFailure(f"DNS server: {error}") from None
    if not allowed:
        raise ProbeFailure(f"could not resolve DNS server {server.host}")
    return (allowed[0][4][0],), server.port


@functools.lru_cache(maxsize=512)
def _resolver(
    nameservers: tuple[str, ...], port: int, timeout: float
) -> dns.asyncresolver.Resolver:
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = list(nameservers)
    resolver.port = port
    resolver.timeout = timeout / len(nameservers)  # per attempt; the lifetime is per call
    resolver.lifetime = timeout
    resolver.retry_servfail = False
    resolver.cache = None
    resolver.use_edns(0, 0, 1232)  # the DNS Flag Day 2020 size: no fragmented UDP answers
    return resolver


_system_config: tuple[float, tuple[tuple[str, ...], int]] | None = None


def _system_nameservers() -> tuple[tuple[str, ...], int]:
    """The name servers of /etc/resolv.conf, read again only when the file changes."""
    global _system_config
    try:
        changed_at = os.stat(RESOLV_CONF).st_mtime
    except OSError:
        raise ProbeFailure(
            f"no DNS server configured ({RESOLV_CONF} missing): set server"
        ) from None
    if _system_config is None or _system_config[0] != changed_at:
        try:
            system = dns.resolver.Resolver(filename=RESOLV_CONF)
        except dns.resolver.NoResolverConfiguration:
            raise ProbeFailure(f"no DNS server configured in {RESOLV_CONF}: set server") from None
        addresses = tuple(str(nameserver) for nameserver in system.nameservers)
        _system_config = (changed_at, (addresses, system.port))
    return _system_config[1]


PROBE = ProbeType(
    kind="dns",
    label="DNS lookup",
    short_label="DNS",
    target_help="Name to look up, e.g. example.net (an IP address for PTR lookups)",
    properties=PROPERTIES,
    outputs=OUTPUTS,
    check_target=check_target,
    probe=probe,
    template=MonitorTemplate(
        title="DNS lookup",
        name="DNS for example.net",
        target="example.net",
        interval="5m",
        rule="resultCount > 0",
        properties={"type": "A"},
        rule_examples=("resultCount > 0", "'93.184.215.14' IN (result1, result2)"),
    ),
    target_shape="a DNS name such as example.net, or an IP address with type PTR",
    check_target_properties=check_target_properties,
)
