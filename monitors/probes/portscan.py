"""The ``portscan`` monitor type: a TCP connect scan of one host's ports, compared with the set
of ports expected open.

Contract, plain data in and out:

* Target: a host name or an IP address, IPv6 without brackets (as ping: ``db.example.net``,
  ``192.0.2.7``, ``2001:db8::7``). One address is scanned: the first the resolver returns of
  the family ``network`` asks for (``ip``, ``ip4``, ``ip6``, as ping) that the probe network
  policy allows (``monitors.netpolicy``); when it allows none the run fails with its reason.
* Properties: ``ports`` (required: ports and ranges, ``22,80,443,8000-8100``, at most
  ``port_lists.MAX_PORTS`` = 4096 distinct ports), ``expectOpen`` (a port list, or ``none``;
  unset: the baseline, below), ``concurrency`` (100, 1 to 256 connects in flight),
  ``timeout`` (10s: ONE deadline for the name lookup and the whole scan), ``network`` (ip).
* Outputs: ``openPorts`` (``"22,80"``: every open port, ascending, ``""`` for none),
  ``openCount``, ``expectedOpen`` (the set compared against, written the same way),
  ``unexpectedOpen`` / ``unexpectedOpenCount`` (open but not expected), ``unexpectedClosed``
  / ``unexpectedClosedCount`` (expected but not open), ``ipAddress`` and ``respTime`` (ms
  from the first connect to the last port's answer or timeout, also the value).

Open, closed, and the timeouts. A port is open when the handshake completes (the connection is
then closed with a FIN at once; nothing is sent), closed when it is refused or does not answer
within the per-connect timeout (a filtered port: SYNs dropped). ``concurrency`` workers take
the ports in ascending order, so each makes at most ``ceil(ports / concurrency)`` connects one
after another, and the per-connect timeout is the time left after the name lookup divided by
that number: a scan of only filtered ports still ends within ``timeout``. (100 ports at the
default concurrency get the whole 10s each; 4096 ports get 10s / 41 = 244ms.) Below
``MIN_CONNECT_SECONDS`` (50ms) a filtered port and a slow one cannot be told apart, so such a
configuration fails every run naming the numbers; raise ``timeout`` or ``concurrency``.

When the host cannot be scanned the run is Failed, not "everything closed": when no port is
open and a connect failed otherwise than refused or unanswered (``host unreachable``,
``network unreachable``, …), with that error; and always when this process runs out of
sockets (``too many open files``, …), since its results would be wrong.

The verdict. A probe cannot return Error (``monitors.probes.tls`` explains why): the run is
OK or Error as the monitor's rule says. The type's template rule is
``unexpectedOpenCount == 0 && unexpectedClosedCount == 0``, so a new monitor is Error when the
open set differs from the expected set either way; a monitor may alert on one side only
(``unexpectedOpenCount == 0``: a new service appeared) or pin the set (``openPorts ==
'22,443'``). With no rule it is never Error. A port of ``expectOpen`` that ``ports`` does not
scan fails the run (it could never be judged).

The baseline (a remembering type, ``ProbeType.remembers``). Without ``expectOpen`` the first
scan's open set becomes the expected set and is remembered (``{"baseline": [22, 80],
"scanned": "22,80,8000-8100"}``); later scans are compared with it, so a port that opens
later is ``unexpectedOpen`` until the baseline is reset. It is reset when the monitor's type
or target changes (``monitors.services``); when ``ports`` changes, the ports no longer scanned
leave it and the newly scanned ones join it as the first scan of them finds them. Setting
``expectOpen`` clears it (removing it again starts a new baseline). A Failed run keeps it.
"Test now" runs with no memory, so its scan is its own baseline: it shows the open set, never
an unexpected port, unless ``expectOpen`` is set. The first scan is trusted as it is (a host
that was down then has an empty baseline): set ``expectOpen`` where that will not do.
"""

from __future__ import annotations

import asyncio
import errno
import math
import socket
import time
from collections.abc import Mapping, Sequence

from lib.durations import format_seconds
from monitors import netpolicy
from monitors.probes import port_lists
from monitors.probes.base import (
    MonitorTemplate,
    OutputSpec,
    ProbeFailure,
    ProbeResult,
    ProbeType,
    PropertySpec,
    describe_error,
    int_parser,
    parse_timeout,
)
from monitors.targets import is_host_name, is_ip_address

NETWORKS = ("ip", "ip4", "ip6")
_FAMILIES = {"ip": socket.AF_UNSPEC, "ip4": socket.AF_INET, "ip6": socket.AF_INET6}
MAX_CONCURRENCY = 256
MIN_CONNECT_SECONDS = 0.05

PROPERTIES = (
    PropertySpec(
        "ports",
        "Ports to scan: ports and ranges separated by commas, e.g. 22,80,443,8000-8100 "
        f"(at most {port_lists.MAX_PORTS} ports).",
        parse=port_lists.parse_ports,
        required=True,
    ),
    PropertySpec(
        "expectOpen",
        "Ports expected open, written as ports (or none). Unset: the first scan's open ports, "
        "remembered as the baseline.",
        parse=port_lists.parse_expected,
    ),
    PropertySpec(
        "concurrency",
        f"Connects in flight at once, 1 to {MAX_CONCURRENCY}.",
        default="100",
        parse=int_parser(1, MAX_CONCURRENCY),
    ),
    PropertySpec(
        "timeout",
        "Deadline for the name lookup and the whole scan, e.g. 10s. Each connect waits the "
        "time left divided by ceil(ports / concurrency).",
        default="10s",
        parse=parse_timeout,
    ),
    PropertySpec(
        "network",
        "Address family to scan when a name has several addresses: ip (the first address the "
        "resolver returns), ip4 (the first IPv4 address) or ip6 (the first IPv6 address).",
        default="ip",
        choices=NETWORKS,
    ),
)

OUTPUTS = (
    OutputSpec("respTime", "number", "Milliseconds the scan took (the value).", unit="ms"),
    OutputSpec("openPorts", "string", "The open ports, ascending, e.g. 22,80 (empty: none)."),
    OutputSpec("openCount", "number", "How many ports are open."),
    OutputSpec("expectedOpen", "string", "The ports expected open: expectOpen or the baseline."),
    OutputSpec("unexpectedOpen", "string", "Open ports not expected open, e.g. 8080."),
    OutputSpec("unexpectedOpenCount", "number", "How many open ports are not expected open."),
    OutputSpec("unexpectedClosed", "string", "Ports expected open that are not, e.g. 443."),
    OutputSpec("unexpectedClosedCount", "number", "How many expected ports are not open."),
    OutputSpec("ipAddress", "string", "The address scanned, e.g. 192.0.2.7 or ::1."),
)

# A refused connect, or one unanswered within the per-connect timeout: the port is closed.
_CLOSED = object()

# Errors of this process, not of the host: the scan's results would be wrong.
_LOCAL_ERRNOS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM, errno.EADDRNOTAVAIL}

_ERRNO_MESSAGES = {
    errno.ENETUNREACH: "network unreachable",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ECONNRESET: "connection reset",
    errno.EACCES: "connection not permitted",
    errno.EPERM: "connection not permitted",
}


def check_target(target: str) -> None:
    """Raise ``ValueError`` unless ``target`` is a host name or an IP address (as ping)."""
    if not target:
        raise ValueError("empty target")
    if not (is_ip_address(target) or is_host_name(target)):
        raise ValueError(f"{target!r} is not a host name or IP address")


def _of_network(entry: tuple, network: str) -> bool:
    """Whether a ``getaddrinfo`` entry is an address of the family ``network`` asks for."""
    return entry[0] in (socket.AF_INET, socket.AF_INET6) and _FAMILIES[network] in (
        socket.AF_UNSPEC,
        entry[0],
    )


def connect_timeout(seconds: float, port_count: int, concurrency: int) -> float:
    """Seconds each connect may wait: ``seconds`` over the connects each worker makes."""
    return seconds / math.ceil(port_count / min(concurrency, port_count))


async def probe(
    target: str, properties: Mapping[str, object], memory: Mapping[str, object]
) -> ProbeResult:
    """Scan ``target``'s ``ports`` and compare; see the module docstring."""
    ports: tuple[int, ...] = properties["ports"]  # type: ignore[assignment]
    expect_open: tuple[int, ...] | None = properties["expectOpen"]  # type: ignore[assignment]
    concurrency = int(properties["concurrency"])
    timeout = float(properties["timeout"])
    _check_configuration(ports, expect_open, concurrency, timeout)
    loop = asyncio.get_running_loop()
    ends_at = loop.time() + timeout
    try:
        family, sockaddr = await _resolve(target, str(properties["network"]), timeout)
    except netpolicy.PolicyDenied as error:
        raise ProbeFailure(str(error)) from None
    per_connect = scan_budget(ends_at - loop.time(), timeout, len(ports), concurrency)
    started = time.perf_counter()
    open_ports, errors = await _scan(family, sockaddr, ports, concurrency, per_connect, ends_at)
    milliseconds = round((time.perf_counter() - started) * 1000, 3)
    if not open_ports and errors:
        raise ProbeFailure(_describe_connect_error(errors[min(errors)]))
    expected, remember = expectation(ports, open_ports, expect_open, memory)
    unexpected_open = sorted(set(open_ports) - set(expected))
    unexpected_closed = sorted(set(expected) - set(open_ports))
    outputs: dict[str, float | str] = {
        "respTime": milliseconds,
        "openPorts": port_lists.join(open_ports),
        "openCount": len(open_ports),
        "expectedOpen": port_lists.join(expected),
        "unexpectedOpen": port_lists.join(unexpected_open),
        "unexpectedOpenCount": len(unexpected_open),
        "unexpectedClosed": port_lists.join(unexpected_closed),
        "unexpectedClosedCount": len(unexpected_closed),
        "ipAddress": sockaddr[0],
    }
    return ProbeResult(value=milliseconds, outputs=outputs, memory=remember)


def scan_budget(remaining: float, timeout: float, port_count: int, concurrency: int) -> float:
    """The per-connect timeout for the ``remaining`` seconds after the name lookup; a lookup
    that left too little to judge a port fails the run (rather than report all closed)."""
    per_connect = connect_timeout(max(remaining, 0.0), port_count, concurrency)
    if per_connect < MIN_CONNECT_SECONDS:
        raise ProbeFailure(
            f"timed out after {format_seconds(timeout)}: resolving the host left too little "
            "time to scan"
        )
    return per_connect


def _check_configuration(
    ports: Sequence[int], expect_open: Sequence[int] | None, concurrency: int, timeout: float
) -> None:
    """Fail a configuration no scan could judge (module docstring)."""
    if expect_open is not None and (outside := sorted(set(expect_open) - set(ports))):
        shown = port_lists.join(outside[:5]) + (",…" if len(outside) > 5 else "")
        raise ProbeFailure(f"expectOpen names ports that ports does not scan: {shown}")
    per_connect = connect_timeout(timeout, len(ports), concurrency)
    if per_connect < MIN_CONNECT_SECONDS:
        raise ProbeFailure(
            f"timeout {format_seconds(timeout)} is too short for {len(ports)} ports "
            f"{concurrency} at a time: each connect would wait "
            f"{format_seconds(round(per_connect, 3))}, under "
            f"{format_seconds(MIN_CONNECT_SECONDS)}; raise timeout or concurrency"
        )


def expectation(
    ports: Sequence[int],
    open_ports: Sequence[int],
    expect_open: Sequence[int] | None,
    memory: Mapping[str, object],
) -> tuple[list[int], dict[str, object] | None]:
    """(the ports expected open, the memory to keep: None leaves it as it is).

    ``expectOpen`` wins and clears a remembered baseline. Otherwise the remembered baseline
    is used for the ports it scanned, and this scan's open set for the rest (all of them on
    the first scan); a baseline that changes is remembered.
    """
    if expect_open is not None:
        return sorted(expect_open), ({} if memory else None)
    scanned = set(ports)
    remembered = _remembered(memory)
    if remembered is None:
        baseline, before = set(open_ports), set()
    else:
        before_baseline, before = remembered
        baseline = (before_baseline & scanned) | (set(open_ports) & (scanned - before))
    expected = sorted(baseline)
    if remembered is not None and before == scanned:
        return expected, None
    return expected, {"baseline": expected, "scanned": port_lists.compact(ports)}


def _remembered(memory: Mapping[str, object]) -> tuple[set[int], set[int]] | None:
    """(baseline, ports scanned) from a memory this type wrote; None for any other."""
    baseline, scanned = memory.get("baseline"), memory.get("scanned")
    if not isinstance(baseline, list) or not isinstance(scanned, str):
        return None
    if not all(isinstance(port, int) for port in baseline):
        return None
    try:
        scanned_ports = set(port_lists.parse_ports(scanned)) if scanned else set()
    except ValueError:
        return None
    return set(baseline), scanned_ports


async def _scan(
    family: int,
    sockaddr: tuple,
    ports: Sequence[int],
    concurrency: int,
    per_connect: float,
    ends_at: float,
) -> tuple[list[int], dict[int, OSError]]:
    """(open ports ascending, other errors by port): ``concurrency`` workers take the ports
    in order; each connect waits ``per_connect`` at most, and the scan stops at ``ends_at``
    (a port not answered by then is closed)."""
    loop = asyncio.get_running_loop()
    pending = iter(ports)
    open_ports: list[int] = []
    errors: dict[int, OSError] = {}

    async def worker() -> None:
        for port in pending:
            outcome = await _try_port(loop, family, (sockaddr[0], port, *sockaddr[2:]), per_connect)
            if outcome is None:
                open_ports.append(port)
            elif outcome is not _CLOSED:
                errors[port] = outcome  # type: ignore[assignment]

    workers = [asyncio.ensure_future(worker()) for _ in range(min(concurrency, len(ports)))]
    try:
        async with asyncio.timeout_at(ends_at):
            await asyncio.gather(*workers)
    except TimeoutError:
        pass  # a safety net: the per-connect timeouts end the scan before it
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    return sorted(open_ports), errors


async def _try_port(
    loop: asyncio.AbstractEventLoop, family: int, address: tuple, per_connect: float
) -> object:
    """None when ``address`` accepts, ``_CLOSED`` when it refuses or stays silent, else the
    error; ``ProbeFailure`` when this process cannot open a socket."""
    try:
        sock = socket.socket(family, socket.SOCK_STREAM)
    except OSError as error:
        raise ProbeFailure(f"cannot open a socket: {describe_error(error)}") from None
    with sock:
        sock.setblocking(False)
        try:
            async with asyncio.timeout(per_connect):
                await loop.sock_connect(sock, address)
        except (TimeoutError, ConnectionRefusedError):
            return _CLOSED
        except OSError as error:
            if error.errno in _LOCAL_ERRNOS:
                raise ProbeFailure(f"cannot scan: {describe_error(error)}") from None
            return error
    return None


async def _resolve(target: str, network: str, timeout: float) -> tuple[int, tuple]:
    """(family, socket address) to scan (as ping's: the first allowed of the family)."""
    policy = netpolicy.current()
    policy.check_name(target)
    if is_ip_address(target):
        addresses = socket.getaddrinfo(
            target, None, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST
        )
        chosen = [entry for entry in addresses if _of_network(entry, network)]
        if not chosen:
            family = "IPv4" if network == "ip4" else "IPv6"
            raise ProbeFailure(f"{target} is not an {family} address (network={network})")
        return chosen[0][0], chosen[0][4]
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout):
            addresses = await loop.getaddrinfo(
                target, None, family=_FAMILIES[network], type=socket.SOCK_STREAM
            )
    except socket.gaierror:
        raise ProbeFailure("could not resolve host") from None
    except TimeoutError:
        raise ProbeFailure(f"timed out after {format_seconds(timeout)} resolving host") from None
    candidates = [entry for entry in addresses if _of_network(entry, network)]
    allowed = policy.permitted(target, candidates, lambda info: info[4][0])
    if not allowed:
        raise ProbeFailure("could not resolve host")
    return allowed[0][0], allowed[0][4]


def _describe_connect_error(error: OSError) -> str:
    return _ERRNO_MESSAGES.get(error.errno or 0) or describe_error(error)


PROBE = ProbeType(
    kind="portscan",
    label="Port scan (TCP)",
    short_label="Port scan",
    target_help="Host name or IP address to scan, e.g. db.example.net, 192.0.2.7 or 2001:db8::7",
    properties=PROPERTIES,
    outputs=OUTPUTS,
    check_target=check_target,
    probe=probe,  # type: ignore[arg-type]  # remembers: called with the memory too
    template=MonitorTemplate(
        title="Open ports (port scan)",
        name="Server ports",
        target="192.0.2.7",
        interval="5m",
        rule="unexpectedOpenCount == 0 && unexpectedClosedCount == 0",
        properties={"ports": "22,80,443", "timeout": "10s"},
        rule_examples=(
            "unexpectedOpenCount == 0",
            "openPorts == '22,443'",
            "unexpectedOpenCount == 0 && unexpectedClosedCount == 0",
        ),
    ),
    target_shape="a host name or an IP address, without scheme or port",
    remembers=True,
)
