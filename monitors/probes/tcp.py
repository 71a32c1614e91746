"""The ``tcp`` monitor type: open one TCP connection, measure the connect, close it at once.

Contract (``docs/contract.md`` §2, tcp row), plain data in and out:

* Target: ``host:port``, IPv6 as ``[addr]:port`` (``check_target`` validates the shape and the
  port 1–65535; an unbracketed ``::1:80`` is refused as ambiguous).
* Properties: ``timeout`` (5s): ONE deadline for name resolution and the connect together;
  ``network`` (ip): ``ip``, ``ip4``, ``ip6`` or ``both`` (``monitors.probes.families``: with
  ``both`` one run connects over IPv4 and over IPv6 at once and adds ``respTime4``,
  ``respTime6``, ``ipAddress4``, ``ipAddress6``; Failed, naming the family, when either fails).
* Outputs: ``respTime`` (ms to connect, also the value) and ``ipAddress`` (the address actually
  connected, as text: ``127.0.0.1``, ``::1``).
* Expected failures raise ``ProbeFailure``: ``connection refused``, ``timed out after 5s``
  (a filtered port: SYNs dropped), ``could not resolve host``, ``network unreachable``,
  ``host unreachable``.

Edge cases, decided here once:

* A name with several addresses is tried address by address in resolver order (RFC 6724, as
  ``getaddrinfo`` sorts them) until one connects, all within the one deadline. When all fail,
  the first address's error is reported: it is the one the operator expects to work.
* ``respTime`` covers the successful connect only (the three-way handshake), not the name
  lookup or failed attempts on earlier addresses.
* The connection is closed with a normal FIN straight after the handshake; nothing is sent.
* Only addresses the probe network policy allows are tried (``monitors.netpolicy``); when it
  refuses them all the run fails with its reason (``address 169.254.169.254 is denied by …``).

Performance: an address literal is turned into a socket address without the thread pool
(``getaddrinfo`` with ``AI_NUMERICHOST`` never blocks); only host names go through
``loop.getaddrinfo``. The connect uses a bare non-blocking socket and ``loop.sock_connect``:
no transport, protocol or stream objects are built for a connection that is closed at once.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import time
from collections.abc import Mapping

from lib.durations import format_seconds
from monitors import netpolicy
from monitors.probes.base import (
    MonitorTemplate,
    OutputSpec,
    ProbeFailure,
    ProbeResult,
    ProbeType,
    PropertySpec,
    describe_error,
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
from monitors.targets import is_ip_address, split_host_port

PROPERTIES = (
    PropertySpec(
        "timeout",
        "Deadline for resolving the host and connecting, e.g. 5s or 500ms.",
        default="5s",
        parse=parse_timeout,
    ),
    NETWORK,
)

OUTPUTS = (
    OutputSpec("respTime", "number", "Milliseconds to establish the connection.", unit="ms"),
    OutputSpec("ipAddress", "string", "The address connected to, e.g. 192.0.2.7 or ::1."),
)
PER_FAMILY = ("respTime", "ipAddress")
OUTPUTS += per_family_outputs(OUTPUTS, PER_FAMILY)

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


def check_target(target: str) -> None:
    """Raise ``ValueError`` unless ``target`` is ``host:port`` or ``[ipv6]:port``."""
    split_host_port(target)


def check_target_properties(target: str, properties: Mapping[str, object]) -> None:
    """An address literal must be of a family ``network`` allows (``both``: a name)."""
    check_target_network(split_host_port(target)[0], str(properties.get("network") or "ip"))


async def probe(target: str, properties: Mapping[str, object]) -> ProbeResult:
    """Connect to ``target`` once under the ``timeout`` deadline; see the module docstring."""
    host, port = split_host_port(target)
    timeout = float(properties["timeout"])
    network = str(properties.get("network") or "ip")
    if network == "both":
        if (problem := literal_problem(host, network)) is not None:
            raise ProbeFailure(problem)
        return await over_both(lambda over: _probe(host, port, timeout, over), PER_FAMILY)
    return await _probe(host, port, timeout, network)


async def _probe(host: str, port: int, timeout: float, network: str) -> ProbeResult:
    try:
        async with asyncio.timeout(timeout):
            policy = netpolicy.current()
            policy.check_name(host)
            addresses = await _resolve(host, port, network)
            # Only the addresses the probe network policy allows are tried.
            addresses = policy.permitted(host, addresses, lambda info: info[4][0])
            return await _connect_first(addresses)
    except TimeoutError:
        raise ProbeFailure(f"timed out after {format_seconds(timeout)}") from None
    except netpolicy.PolicyDenied as error:
        raise ProbeFailure(str(error)) from None


async def _resolve(host: str, port: int, network: str) -> list[AddressInfo]:
    if is_ip_address(host):
        if (problem := literal_problem(host, network)) is not None:
            raise ProbeFailure(problem)
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    try:
        return await asyncio.get_running_loop().getaddrinfo(
            host, port, family=FAMILY[network], type=socket.SOCK_STREAM
        )
    except socket.gaierror:
        raise ProbeFailure("could not resolve host") from None


async def _connect_first(addresses: list[AddressInfo]) -> ProbeResult:
    first_error: OSError | None = None
    for family, kind, proto, _canonical, sockaddr in addresses:
        try:
            milliseconds = await _connect(family, kind, proto, sockaddr)
        except OSError as error:
            first_error = first_error or error
            continue
        return ProbeResult(
            value=milliseconds,
            outputs={"respTime": milliseconds, "ipAddress": sockaddr[0]},
        )
    if first_error is None:
        raise ProbeFailure("could not resolve host")
    raise ProbeFailure(_describe_connect_error(first_error))


async def _connect(family: int, kind: int, proto: int, sockaddr: tuple) -> float:
    """Milliseconds to connect to ``sockaddr``; the socket is closed before returning."""
    loop = asyncio.get_running_loop()
    with socket.socket(family, kind, proto) as sock:
        sock.setblocking(False)
        started = time.perf_counter()
        await loop.sock_connect(sock, sockaddr)
        return round((time.perf_counter() - started) * 1000, 3)


def _describe_connect_error(error: OSError) -> str:
    if error.errno in _ERRNO_MESSAGES:
        return _ERRNO_MESSAGES[error.errno]
    return describe_error(error)


PROBE = ProbeType(
    kind="tcp",
    label="TCP port",
    short_label="TCP",
    target_help="host:port to connect to, IPv6 as [addr]:port, e.g. db.example.net:5432",
    properties=PROPERTIES,
    outputs=OUTPUTS,
    check_target=check_target,
    probe=probe,
    template=MonitorTemplate(
        title="TCP port",
        name="Database port",
        target="db.example.net:5432",
        interval="30s",
        rule="respTime < 500",
        properties={"timeout": "5s"},
        rule_examples=("respTime < 500", "ipAddress == '192.0.2.7'"),
    ),
    target_shape="host:port or [IPv6 address]:port",
    check_target_properties=check_target_properties,
)
