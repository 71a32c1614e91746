"""The portscan probe against real sockets: listeners opened here on loopback (and ports bound
but not listening, which refuse), and a namespace host with known listeners, a filtered port
and an unreachable address."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping

import pytest

from monitors.engine import CheckRequest, CheckStatus, run_checks_sync
from monitors.probes import port_lists, remembers
from monitors.probes.base import ProbeFailure, PropertyError
from monitors.probes.portscan import MIN_CONNECT_SECONDS, PROBE, connect_timeout, scan_budget
from tests.support import netns

RULE = PROBE.template["rule"]


def scan(target: str, memory: Mapping[str, object] | None = None, **properties: str):
    parsed = PROBE.parse_properties(properties)
    return asyncio.run(PROBE.probe(target, parsed, dict(memory or {})))


class Ports:
    """Listening and refusing ports on one loopback address, opened and closed by the test."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.listeners: dict[int, socket.socket] = {}
        self.bound: dict[int, socket.socket] = {}

    def listening(self) -> int:
        server = socket.create_server((self.host, 0), family=self.family)
        port = server.getsockname()[1]
        self.listeners[port] = server
        return port

    def refusing(self) -> int:
        """A port bound (so nothing else takes it) but not listening: it refuses."""
        sock = socket.socket(self.family)
        sock.bind((self.host, 0))
        port = sock.getsockname()[1]
        self.bound[port] = sock
        return port

    def open_on(self, port: int) -> None:
        """Start listening on a refusing port."""
        self.bound[port].listen()
        self.listeners[port] = self.bound.pop(port)

    def close(self, port: int) -> None:
        """Stop listening on ``port`` but keep it bound: it refuses from now on."""
        self.listeners.pop(port).close()
        self.bound[port] = sock = socket.socket(self.family)
        sock.bind((self.host, port))

    def close_all(self) -> None:
        for sock in [*self.listeners.values(), *self.bound.values()]:
            sock.close()


@pytest.fixture
def ports() -> Iterator[Ports]:
    opened = Ports()
    yield opened
    opened.close_all()


@pytest.fixture
def ipv6_ports() -> Iterator[Ports]:
    opened = Ports("::1")
    yield opened
    opened.close_all()


@pytest.fixture
def namespace_host() -> Iterator[netns.NamespaceHost]:
    if reason := netns.skip_reason():
        pytest.skip(reason)
    with netns.namespace_host() as host:
        yield host


def ports_text(*numbers: int) -> str:
    return ",".join(str(number) for number in sorted(numbers))


# --- On loopback ------------------------------------------------------------------------------


def test_open_ports_are_found_and_refusing_ones_are_closed(ports):
    first, second = ports.listening(), ports.listening()
    refused = [ports.refusing() for _ in range(3)]

    result = scan("127.0.0.1", ports=ports_text(first, second, *refused), timeout="5s")

    assert result.outputs["openPorts"] == ports_text(first, second)
    assert result.outputs["openCount"] == 2
    assert result.outputs["ipAddress"] == "127.0.0.1"
    assert result.value == result.outputs["respTime"] >= 0


def test_an_ipv6_address_is_scanned_without_brackets(ipv6_ports):
    listening, refused = ipv6_ports.listening(), ipv6_ports.refusing()

    result = scan("::1", ports=ports_text(listening, refused))

    assert (result.outputs["openPorts"], result.outputs["ipAddress"]) == (str(listening), "::1")


def test_a_host_name_is_resolved_to_an_address_of_the_family_asked_for(ports):
    # localhost comes from /etc/hosts: no DNS query leaves the machine.
    listening = ports.listening()

    result = scan("localhost", ports=str(listening), network="ip4")

    assert (result.outputs["openPorts"], result.outputs["ipAddress"]) == (
        str(listening),
        "127.0.0.1",
    )


def test_an_address_of_the_other_family_than_network_fails():
    with pytest.raises(ProbeFailure, match=r"^127\.0\.0\.1 is not an IPv6 address"):
        scan("127.0.0.1", ports="80", network="ip6")


def test_a_range_is_scanned_port_by_port(ports):
    listening = ports.listening()
    low = listening - 2 if listening > 3 else listening

    result = scan("127.0.0.1", ports=f"{low}-{listening + 2}", concurrency="2")

    assert str(listening) in result.outputs["openPorts"].split(",")


def test_the_first_scan_is_the_baseline_and_a_new_listener_is_unexpected_open(ports):
    first, later = ports.listening(), ports.refusing()
    properties = {"ports": ports_text(first, later)}

    baseline = scan("127.0.0.1", **properties)
    assert baseline.memory == {"baseline": [first], "scanned": ports_text(first, later)}
    assert (baseline.outputs["expectedOpen"], baseline.outputs["unexpectedOpenCount"]) == (
        str(first),
        0,
    )

    ports.open_on(later)
    changed = scan("127.0.0.1", baseline.memory, **properties)

    assert changed.outputs["openPorts"] == ports_text(first, later)
    assert (changed.outputs["unexpectedOpen"], changed.outputs["unexpectedOpenCount"]) == (
        str(later),
        1,
    )
    assert (changed.outputs["unexpectedClosed"], changed.outputs["unexpectedClosedCount"]) == (
        "",
        0,
    )
    assert changed.memory is None  # the baseline stays as the first scan found it


def test_a_baseline_port_that_stops_listening_is_unexpected_closed(ports):
    first, second = ports.listening(), ports.listening()
    properties = {"ports": ports_text(first, second)}
    baseline = scan("127.0.0.1", **properties)

    ports.close(second)
    changed = scan("127.0.0.1", baseline.memory, **properties)

    assert changed.outputs["openPorts"] == str(first)
    assert (changed.outputs["unexpectedClosed"], changed.outputs["unexpectedClosedCount"]) == (
        str(second),
        1,
    )


def test_changed_ports_keep_the_baseline_of_ports_still_scanned_and_adopt_new_ones(ports):
    kept, dropped, added = ports.listening(), ports.listening(), ports.listening()
    baseline = scan("127.0.0.1", ports=ports_text(kept, dropped))

    changed = scan("127.0.0.1", baseline.memory, ports=ports_text(kept, added))

    assert changed.outputs["expectedOpen"] == ports_text(kept, added)
    assert changed.outputs["unexpectedOpenCount"] == 0
    assert changed.memory == {"baseline": sorted([kept, added]), "scanned": ports_text(kept, added)}


def test_a_memory_this_type_did_not_write_is_a_first_scan(ports):
    listening = ports.listening()

    result = scan("127.0.0.1", {"baseline": "22", "scanned": 7}, ports=str(listening))

    assert result.outputs["unexpectedOpenCount"] == 0
    assert result.memory == {"baseline": [listening], "scanned": str(listening)}


def test_expect_open_is_compared_with_and_clears_a_remembered_baseline(ports):
    expected, unexpected, missing = ports.listening(), ports.listening(), ports.refusing()
    properties = {"ports": ports_text(expected, unexpected, missing)}
    remembered = scan("127.0.0.1", **properties).memory

    result = scan("127.0.0.1", remembered, expectOpen=ports_text(expected, missing), **properties)

    assert result.outputs["expectedOpen"] == ports_text(expected, missing)
    assert result.outputs["unexpectedOpen"] == str(unexpected)
    assert result.outputs["unexpectedClosed"] == str(missing)
    assert result.memory == {}
    assert scan("127.0.0.1", {}, expectOpen=str(expected), **properties).memory is None


def test_expect_open_none_makes_every_open_port_unexpected(ports):
    first, second = ports.listening(), ports.listening()

    result = scan("127.0.0.1", ports=ports_text(first, second), expectOpen="NONE")

    assert result.outputs["expectedOpen"] == ""
    assert result.outputs["unexpectedOpen"] == ports_text(first, second)
    assert result.outputs["unexpectedOpenCount"] == 2


def test_expect_open_outside_the_scanned_ports_fails_the_run():
    with pytest.raises(
        ProbeFailure, match=r"^expectOpen names ports that ports does not scan: 443,8080$"
    ):
        scan("127.0.0.1", ports="22", expectOpen="22,443,8080")


def test_too_short_a_connect_timeout_fails_naming_the_numbers():
    with pytest.raises(ProbeFailure) as caught:
        scan("127.0.0.1", ports="1-4096", concurrency="1", timeout="10s")

    assert str(caught.value) == (
        "timeout 10s is too short for 4096 ports 1 at a time: each connect would wait "
        "2ms, under 50ms; raise timeout or concurrency"
    )


def test_the_connect_timeout_is_the_time_over_the_connects_each_worker_makes():
    assert connect_timeout(10, 100, 100) == 10
    assert connect_timeout(10, 4096, 100) == pytest.approx(10 / 41)
    assert connect_timeout(10, 3, 100) == 10
    assert connect_timeout(10, 4096, 1) < MIN_CONNECT_SECONDS


def test_a_name_lookup_that_leaves_too_little_time_fails_instead_of_scanning():
    assert scan_budget(4.0, 10.0, 100, 100) == 4.0
    with pytest.raises(ProbeFailure, match=r"^timed out after 10s: resolving the host left"):
        scan_budget(0.01, 10.0, 100, 100)
    with pytest.raises(ProbeFailure, match=r"^timed out after 10s: "):
        scan_budget(-0.5, 10.0, 3, 100)


# --- Through the engine: the verdict is the rule's, the memory comes back ---------------------


def test_the_template_rule_is_ok_on_the_baseline_and_error_when_the_set_differs(ports):
    first, later = ports.listening(), ports.refusing()
    properties = {"ports": ports_text(first, later)}
    [baseline] = run_checks_sync(
        [CheckRequest("portscan", "127.0.0.1", properties, rule=RULE)], concurrency=1
    )
    assert (baseline.status, baseline.memory) == (
        CheckStatus.OK,
        {"baseline": [first], "scanned": ports_text(first, later)},
    )

    ports.open_on(later)
    [changed] = run_checks_sync(
        [CheckRequest("portscan", "127.0.0.1", properties, rule=RULE, memory=baseline.memory)],
        concurrency=1,
    )

    assert RULE == "unexpectedOpenCount == 0 && unexpectedClosedCount == 0"
    assert (changed.status, changed.message) == (CheckStatus.ERROR, f"Rule violated: {RULE}")
    assert changed.outputs["unexpectedOpen"] == str(later)
    assert remembers("portscan")


def test_a_denied_address_fails_with_the_policy_reason(settings, ports):
    settings.NANOMON_PROBE_DENY = ["127.0.0.0/8"]

    [result] = run_checks_sync(
        [CheckRequest("portscan", "127.0.0.1", {"ports": str(ports.listening())})], concurrency=1
    )

    assert (result.status, result.message) == (
        CheckStatus.FAILED,
        "address 127.0.0.1 is denied by NANOMON_PROBE_DENY",
    )


# --- Properties and targets -------------------------------------------------------------------


def test_ports_merge_repeats_and_overlaps_and_default_the_rest():
    parsed = PROBE.parse_properties({"ports": " 443, 22,80-82 ,81,22"})

    assert parsed == {
        "ports": (22, 80, 81, 82, 443),
        "expectOpen": None,
        "concurrency": 100,
        "timeout": 10.0,
        "network": "ip",
    }
    assert PROBE.deadline(parsed) == 10.0


@pytest.mark.parametrize("text", ["1-4097", "1-4000,5001-5097", "1-65535"])
def test_more_ports_than_the_cap_are_refused_naming_it(text):
    with pytest.raises(PropertyError, match=r"^property 'ports': names \d+ ports; at most 4096 "):
        PROBE.parse_properties({"ports": text})


def test_exactly_the_cap_is_accepted():
    assert len(PROBE.parse_properties({"ports": "1-2048,60000-62047"})["ports"]) == 4096


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("80,,443", "empty item"),
        ("http", "'http' is not a port"),
        ("0", "port 0 is out of range"),
        ("65536", "port 65536 is out of range"),
        ("90-80", "range '90-80' runs backwards: write 80-90"),
        ("80-", "'80-' is not a port"),
        ("-5", "'-5' is not a port"),
        ("1-2-3", "'1-2-3' is not a port"),
        ("22;80", "'22;80' is not a port"),
    ],
)
def test_a_bad_port_list_is_refused_with_the_reason(text, reason):
    with pytest.raises(PropertyError, match=r"^property 'ports': ") as caught:
        PROBE.parse_properties({"ports": text})
    assert reason in str(caught.value)


@pytest.mark.parametrize(
    ("properties", "name"),
    [
        ({}, "ports"),
        ({"ports": "22", "expectOpen": "x"}, "expectOpen"),
        ({"ports": "22", "concurrency": "257"}, "concurrency"),
        ({"ports": "22", "concurrency": "0"}, "concurrency"),
        ({"ports": "22", "timeout": "10"}, "timeout"),
        ({"ports": "22", "network": "ip5"}, "network"),
        ({"ports": "22", "count": "3"}, "count"),
    ],
)
def test_a_bad_property_is_refused_naming_it(properties, name):
    with pytest.raises(PropertyError, match=f"^property '{name}'"):
        PROBE.parse_properties(properties)


@pytest.mark.parametrize("target", ["", "host:22", "[::1]", "http://host", "a b"])
def test_check_target_refuses_what_is_not_a_host(target):
    with pytest.raises(ValueError, match=r"\S"):
        PROBE.check_target(target)


@pytest.mark.parametrize("target", ["db.example.net", "192.0.2.7", "2001:db8::7"])
def test_check_target_accepts_a_name_or_an_address(target):
    PROBE.check_target(target)


def test_compact_writes_runs_as_ranges_and_join_every_port():
    assert port_lists.compact([443, 22, 80, 81, 82, 8000]) == "22,80-82,443,8000"
    assert port_lists.join([443, 22, 80]) == "22,80,443"
    assert port_lists.compact([]) == port_lists.join([]) == ""
    assert port_lists.parse_ports(port_lists.compact(range(100, 200))) == tuple(range(100, 200))


# --- In a namespace: known listeners, a filtered port, an unreachable host --------------------

_LISTENER = textwrap.dedent(
    """
    import socket, sys
    servers = []
    for port in map(int, sys.argv[1:]):
        server = socket.create_server(("::", port), family=socket.AF_INET6, dualstack_ipv6=True)
        servers.append(server)
    print("ready", flush=True)
    sys.stdin.read()
    """
)


@contextlib.contextmanager
def listeners_in(host: netns.NamespaceHost, *numbers: int) -> Iterator[None]:
    """Listeners on ``numbers`` (IPv4 and IPv6) inside the namespace until the block ends."""
    process = subprocess.Popen(
        ["ip", "netns", "exec", host.namespace, sys.executable, "-c", _LISTENER]
        + [str(number) for number in numbers],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        yield
    finally:
        process.communicate(timeout=10)


@pytest.mark.netns
@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_known_listeners_are_open_and_a_filtered_port_is_closed_after_the_timeout(
    namespace_host, family
):
    namespace_host.drop_tcp_syn(8443)
    address = getattr(namespace_host, family)

    with listeners_in(namespace_host, 22, 80, 8080):
        result = scan(
            address,
            ports="22,80,443,8080,8443",
            expectOpen="22,80,8443",
            timeout="1s",
        )

    assert result.outputs["openPorts"] == "22,80,8080"
    assert result.outputs["unexpectedOpen"] == "8080"
    assert result.outputs["unexpectedClosed"] == "8443"
    assert result.outputs["ipAddress"] == address


@pytest.mark.netns
def test_only_filtered_ports_are_all_closed_within_the_deadline(namespace_host):
    for port in (7, 9):
        namespace_host.drop_tcp_syn(port)

    result = scan(namespace_host.ipv4, ports="7,9", concurrency="1", timeout="500ms")

    assert (result.outputs["openPorts"], result.outputs["openCount"]) == ("", 0)


@pytest.mark.netns
def test_an_unreachable_host_fails_instead_of_reporting_every_port_closed(namespace_host):
    address = namespace_host.unreachable_address()

    with pytest.raises(ProbeFailure, match=r"^host unreachable$"):
        scan(address, ports="22,80,443")


@pytest.mark.netns
def test_an_address_without_a_route_fails_with_network_unreachable(namespace_host):
    # The namespace has no default route, so nothing is sent: every connect fails at once.
    output = namespace_host.run_python(
        "import asyncio\n"
        "from monitors.probes.base import ProbeFailure\n"
        "from monitors.probes.portscan import PROBE\n"
        "parsed = PROBE.parse_properties({'ports': '22,80'})\n"
        "try:\n"
        "    asyncio.run(PROBE.probe('192.0.2.1', parsed, {}))\n"
        "except ProbeFailure as failure:\n"
        "    print(failure)\n"
    )

    assert output.strip() == "network unreachable"
