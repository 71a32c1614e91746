"""The tcp probe against real sockets: loopback listeners, and a namespace host for the cases
loopback cannot show (a filtered port, an unreachable host, a name that does not resolve)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import pytest

from monitors.engine import CheckRequest, CheckStatus, run_checks_sync
from monitors.probes.base import ProbeFailure, ProbeResult, PropertyError
from monitors.probes.tcp import PROBE
from tests.support import netns


def probe(target: str, **properties: str) -> ProbeResult:
    return asyncio.run(PROBE.probe(target, PROBE.parse_properties(properties)))


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A port on 127.0.0.1 that accepts connections (the kernel completes the handshake)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


@pytest.fixture
def listening_ipv6_port() -> Iterator[int]:
    with socket.create_server(("::1", 0), family=socket.AF_INET6) as server:
        yield server.getsockname()[1]


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port that refuses: bound (so nothing else takes it) but not listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
def namespace_host() -> Iterator[netns.NamespaceHost]:
    if reason := netns.skip_reason():
        pytest.skip(reason)
    with netns.namespace_host() as host:
        yield host


def test_it_connects_to_a_listening_port_and_reports_the_address(listening_port):
    result = probe(f"127.0.0.1:{listening_port}")

    assert result.outputs["ipAddress"] == "127.0.0.1"
    assert result.outputs["respTime"] >= 0
    assert result.value == result.outputs["respTime"]


def test_it_reports_an_ipv6_address_without_brackets_or_port(listening_ipv6_port):
    result = probe(f"[::1]:{listening_ipv6_port}")

    assert result.outputs["ipAddress"] == "::1"


def test_it_resolves_a_host_name_and_reports_the_address_it_connected_to(listening_port):
    # localhost comes from /etc/hosts: no DNS query leaves the machine.
    result = probe(f"localhost:{listening_port}")

    assert result.outputs["ipAddress"] == "127.0.0.1"


def test_a_closed_port_fails_with_connection_refused(closed_port):
    with pytest.raises(ProbeFailure, match=r"^connection refused$"):
        probe(f"127.0.0.1:{closed_port}")


def test_a_closed_ipv6_port_fails_with_connection_refused():
    with socket.socket(socket.AF_INET6) as sock:
        sock.bind(("::1", 0))
        port = sock.getsockname()[1]

        with pytest.raises(ProbeFailure, match=r"^connection refused$"):
            probe(f"[::1]:{port}")


@pytest.mark.netns
def test_a_port_that_drops_syns_times_out_within_the_timeout(namespace_host):
    namespace_host.drop_tcp_syn(9)

    started = time.monotonic()
    with pytest.raises(ProbeFailure, match=r"^timed out after 1s$"):
        probe(f"{namespace_host.ipv4}:9", timeout="1s")
    assert time.monotonic() - started <= 1 + 1


@pytest.mark.netns
def test_an_ipv6_port_that_drops_syns_times_out_and_others_still_refuse(namespace_host):
    namespace_host.drop_tcp_syn(9)

    with pytest.raises(ProbeFailure, match=r"^timed out after 500ms$"):
        probe(f"[{namespace_host.ipv6}]:9", timeout="500ms")
    with pytest.raises(ProbeFailure, match=r"^connection refused$"):
        probe(f"[{namespace_host.ipv6}]:10", timeout="500ms")


@pytest.mark.netns
def test_an_unreachable_host_fails_with_host_unreachable(namespace_host):
    address = namespace_host.unreachable_address()

    with pytest.raises(ProbeFailure, match=r"^host unreachable$"):
        probe(f"{address}:80")


@pytest.mark.netns
def test_an_address_without_a_route_fails_with_network_unreachable(namespace_host):
    # The namespace has no default route, so nothing is sent: connect fails at once.
    output = namespace_host.run_python(
        "import asyncio\n"
        "from monitors.probes.base import ProbeFailure\n"
        "from monitors.probes.tcp import PROBE\n"
        "try:\n"
        "    asyncio.run(PROBE.probe('192.0.2.1:80', PROBE.parse_properties({})))\n"
        "except ProbeFailure as failure:\n"
        "    print(failure)\n"
    )

    assert output.strip() == "network unreachable"


@pytest.mark.netns
def test_a_name_that_does_not_resolve_fails_with_could_not_resolve_host(namespace_host):
    # Inside the namespace the system's name server has no route, so the lookup fails
    # locally instead of asking a real DNS server.
    output = namespace_host.run_python(
        "import asyncio\n"
        "from monitors.probes.base import ProbeFailure\n"
        "from monitors.probes.tcp import PROBE\n"
        "try:\n"
        "    asyncio.run(PROBE.probe('nothing.invalid:80', PROBE.parse_properties({})))\n"
        "except ProbeFailure as failure:\n"
        "    print(failure)\n"
    )

    assert output.strip() == "could not resolve host"


@pytest.mark.parametrize(
    "target",
    ["", "host", "host:0", "host:99999", "host:", "::1:80", "[::1]", "[::1]:", "a b:80"],
)
def test_check_target_refuses_a_target_without_a_valid_host_and_port(target):
    with pytest.raises(ValueError, match=r"\S"):
        PROBE.check_target(target)


@pytest.mark.parametrize("target", ["example.net:443", "10.0.0.1:22", "[2001:db8::1]:80"])
def test_check_target_accepts_host_port_and_bracketed_ipv6(target):
    PROBE.check_target(target)


@pytest.mark.parametrize(
    ("properties", "name"),
    [({"timeout": "5"}, "timeout"), ({"timeout": "-1s"}, "timeout"), ({"count": "3"}, "count")],
)
def test_a_bad_property_is_refused_naming_it(properties, name):
    with pytest.raises(PropertyError, match=f"^property '{name}'") as caught:
        PROBE.parse_properties(properties)
    assert caught.value.name == name


def test_the_timeout_defaults_to_five_seconds_and_is_the_deadline():
    parsed = PROBE.parse_properties({})

    assert parsed == {"timeout": 5.0, "network": "ip"}
    assert PROBE.deadline(parsed) == 5.0


def test_a_rule_on_the_response_time_passes_through_the_engine(listening_port):
    [passing, violated] = run_checks_sync(
        [
            CheckRequest("tcp", f"127.0.0.1:{listening_port}", rule="respTime < 100"),
            CheckRequest("tcp", f"127.0.0.1:{listening_port}", rule="respTime < 0"),
        ],
        concurrency=2,
    )

    assert (passing.status, passing.message) == (CheckStatus.OK, "")
    assert passing.outputs["ipAddress"] == "127.0.0.1"
    assert (violated.status, violated.message) == (
        CheckStatus.ERROR,
        "Rule violated: respTime < 0",
    )


def test_a_refused_connection_is_a_failed_check_without_outputs(closed_port):
    [result] = run_checks_sync([CheckRequest("tcp", f"127.0.0.1:{closed_port}")], concurrency=1)

    assert (result.status, result.message, result.outputs) == (
        CheckStatus.FAILED,
        "connection refused",
        None,
    )
