"""The ping probe with real ICMP: loopback, and a namespace host whose echo replies a userspace
responder delays or drops (this kernel has no netem), or that never answers at all."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
from collections.abc import Iterator

import pytest

from monitors.engine import CheckRequest, CheckStatus, run_checks_sync
from monitors.probes import ping_channel
from monitors.probes.base import ProbeFailure, ProbeResult, PropertyError
from monitors.probes.ping import PROBE, choose_addresses
from monitors.probes.ping_channel import PERMISSION_MESSAGE
from monitors.validation import target_problem
from tests.support import netns

FAST = {"interval": "10ms"}  # the schedule does not matter where these tests look

ALL_OUTPUTS = {
    "minRtt", "avgRtt", "maxRtt", "jitter", "packetsRecv", "packetLoss", "ipAddress",
    "addressCount", "answeringCount",
}  # fmt: skip


def probe(target: str, **properties: str) -> ProbeResult:
    return asyncio.run(PROBE.probe(target, PROBE.parse_properties(properties)))


@pytest.fixture
def namespace_host() -> Iterator[netns.NamespaceHost]:
    if reason := netns.skip_reason():
        pytest.skip(reason)
    with netns.namespace_host() as host:
        yield host


@pytest.mark.parametrize("address", ["127.0.0.1", "::1"])
def test_it_pings_loopback_and_reports_every_output(address):
    result = probe(address)

    outputs = result.outputs
    assert set(outputs) == ALL_OUTPUTS
    assert outputs["ipAddress"] == address
    assert (outputs["addressCount"], outputs["answeringCount"]) == (1, 1)
    assert (outputs["packetsRecv"], outputs["packetLoss"]) == (3, 0)
    assert 0 <= outputs["minRtt"] <= outputs["avgRtt"] <= outputs["maxRtt"]
    assert outputs["jitter"] >= 0
    assert result.value == outputs["avgRtt"]


def test_a_single_reply_has_zero_jitter():
    result = probe("127.0.0.1", count="1")

    assert result.outputs["packetsRecv"] == 1
    assert result.outputs["jitter"] == 0
    assert result.outputs["minRtt"] == result.outputs["maxRtt"] == result.outputs["avgRtt"]


def test_a_large_payload_gets_its_replies():
    assert probe("127.0.0.1", size="65500", **FAST).outputs["packetsRecv"] == 3


def test_concurrent_pings_to_one_host_each_receive_all_their_replies():
    async def many() -> list[ProbeResult]:
        parsed = PROBE.parse_properties({"count": "5", **FAST})
        return await asyncio.gather(*(PROBE.probe("127.0.0.1", parsed) for _ in range(50)))

    results = asyncio.run(many())

    assert [result.outputs["packetsRecv"] for result in results] == [5] * 50


def test_the_shared_socket_is_closed_when_the_last_ping_ends():
    probe("127.0.0.1", count="2", **FAST)
    probe("::1", count="2", **FAST)

    assert ping_channel._channels == {}


def test_a_name_is_resolved_in_the_family_network_asks_for():
    # localhost comes from /etc/hosts (here IPv4 only): no DNS query leaves the machine.
    assert probe("localhost", network="ip4", **FAST).outputs["ipAddress"] == "127.0.0.1"


@pytest.mark.parametrize(
    ("address", "network", "message"),
    [
        ("127.0.0.1", "ip6", "127.0.0.1 is not an IPv6 address (network=ip6)"),
        ("::1", "ip4", "::1 is not an IPv4 address (network=ip4)"),
    ],
)
def test_an_address_of_the_other_family_than_network_fails(address, network, message):
    with pytest.raises(ProbeFailure, match=f"^{re.escape(message)}$"):
        probe(address, network=network)


BOTH_FAMILIES = [
    (socket.AF_INET6, socket.SOCK_DGRAM, 17, "", ("2001:db8::7", 0, 0, 0)),
    (socket.AF_INET, socket.SOCK_DGRAM, 17, "", ("192.0.2.7", 0)),
    (socket.AF_INET6, socket.SOCK_DGRAM, 17, "", ("2001:db8::8", 0, 0, 0)),
    (socket.AF_INET, socket.SOCK_DGRAM, 17, "", ("192.0.2.8", 0)),
    (socket.AF_INET, socket.SOCK_DGRAM, 17, "", ("192.0.2.7", 0)),  # once is enough
]


@pytest.mark.parametrize(
    ("network", "chosen"),
    [
        ("ip", ["2001:db8::7", "192.0.2.7", "2001:db8::8", "192.0.2.8"]),
        ("ip4", ["192.0.2.7", "192.0.2.8"]),
        ("ip6", ["2001:db8::7", "2001:db8::8"]),
    ],
)
def test_network_picks_every_address_of_its_families_once_in_order(network, chosen):
    assert [entry[4][0] for entry in choose_addresses(BOTH_FAMILIES, network)] == chosen


def test_network_ip6_finds_nothing_among_ipv4_addresses():
    assert choose_addresses([entry for entry in BOTH_FAMILIES if entry[0] == 2], "ip6") == []


def test_the_deadline_is_every_interval_plus_the_last_replys_timeout():
    defaults = PROBE.parse_properties({})
    longer = PROBE.parse_properties({"count": "20", "interval": "100ms", "timeout": "2s"})

    assert PROBE.deadline(defaults) == pytest.approx(2 * 0.15 + 1)
    assert PROBE.deadline(longer) == pytest.approx(19 * 0.1 + 2)


@pytest.mark.netns
def test_a_delayed_host_reports_its_round_trip(namespace_host):
    with namespace_host.echo_responder(delay=0.05):
        result = probe(namespace_host.ipv4, count="5", **FAST)

    assert result.outputs["packetsRecv"] == 5
    assert 40 <= result.outputs["avgRtt"] <= 80
    assert result.outputs["minRtt"] >= 40


@pytest.mark.netns
def test_a_delayed_ipv6_host_reports_its_round_trip(namespace_host):
    with namespace_host.echo_responder(delay=0.05):
        result = probe(namespace_host.ipv6, count="5", **FAST)

    assert result.outputs["ipAddress"] == namespace_host.ipv6
    assert 40 <= result.outputs["avgRtt"] <= 80


@pytest.mark.netns
def test_lost_replies_count_as_packet_loss(namespace_host):
    # Every second request (odd sequence numbers) is dropped: exactly half of 20.
    with namespace_host.echo_responder(drop_every=2):
        result = probe(namespace_host.ipv4, count="20", interval="20ms", timeout="300ms")

    assert (result.outputs["packetsRecv"], result.outputs["packetLoss"]) == (10, 50)


@pytest.mark.netns
def test_a_reply_later_than_the_timeout_counts_as_lost(namespace_host):
    with namespace_host.echo_responder(delay=0.3), pytest.raises(ProbeFailure, match=r"^no reply"):
        probe(namespace_host.ipv4, count="2", timeout="100ms", **FAST)


@pytest.mark.netns
def test_a_host_that_never_replies_fails_within_the_deadline(namespace_host):
    namespace_host.ignore_echo_requests()
    parsed = PROBE.parse_properties({"count": "3", "interval": "100ms", "timeout": "500ms"})

    started = time.monotonic()
    with pytest.raises(ProbeFailure, match=r"^no reply from host$"):
        asyncio.run(PROBE.probe(namespace_host.ipv4, parsed))
    assert time.monotonic() - started <= PROBE.deadline(parsed) + 1


@pytest.mark.netns
def test_a_host_that_never_replies_is_a_failed_check_through_the_engine(namespace_host):
    namespace_host.ignore_echo_requests()

    [result] = run_checks_sync(
        [CheckRequest("ping", namespace_host.ipv6, {"timeout": "300ms"}, "packetLoss == 100")],
        concurrency=1,
    )

    assert (result.status, result.message, result.outputs) == (
        CheckStatus.FAILED,
        "no reply from host",
        None,
    )


@pytest.mark.netns
def test_an_address_without_a_route_fails_with_network_unreachable(namespace_host):
    # The namespace has no default route, so nothing is sent: every send fails at once.
    output = namespace_host.run_python(
        "import asyncio\n"
        "from monitors.probes.base import ProbeFailure\n"
        "from monitors.probes.ping import PROBE\n"
        "try:\n"
        "    asyncio.run(PROBE.probe('192.0.2.1', PROBE.parse_properties({})))\n"
        "except ProbeFailure as failure:\n"
        "    print(failure)\n"
    )

    assert output.strip() == "network unreachable"


@pytest.mark.netns
def test_a_name_that_does_not_resolve_fails_with_could_not_resolve_host(namespace_host):
    # Inside the namespace the system's name server has no route: the lookup fails locally.
    output = namespace_host.run_python(
        "import asyncio\n"
        "from monitors.probes.base import ProbeFailure\n"
        "from monitors.probes.ping import PROBE\n"
        "try:\n"
        "    asyncio.run(PROBE.probe('nothing.invalid', PROBE.parse_properties({})))\n"
        "except ProbeFailure as failure:\n"
        "    print(failure)\n"
    )

    assert output.strip() == "could not resolve host"


def ping_name_in_namespace(
    host: netns.NamespaceHost, addresses: list[str], **properties: str
) -> dict[str, object]:
    """Ping ``multi.test``, which a DNS server on the namespace's 127.0.0.1:53 (named by its
    resolv.conf) resolves to ``addresses``, from inside the namespace; the outputs, or the
    failure as ``{"failure": …}``, and ``elapsed`` seconds and the ``deadline``."""
    zone = "".join(
        f"multi.test. IN {'AAAA' if ':' in address else 'A'} {address}\n" for address in addresses
    )
    output = host.run_python(
        "import asyncio, json, time\n"
        "from monitors.probes.base import ProbeFailure\n"
        "from monitors.probes.ping import PROBE\n"
        "from tests.support.dns_server import LocalDnsServer\n"
        f"parsed = PROBE.parse_properties({properties!r})\n"
        f"with LocalDnsServer(port=53, zone={zone!r}):\n"
        "    started = time.monotonic()\n"
        "    try:\n"
        "        found = asyncio.run(PROBE.probe('multi.test', parsed)).outputs\n"
        "    except ProbeFailure as failure:\n"
        "        found = {'failure': str(failure)}\n"
        "    found['elapsed'] = time.monotonic() - started\n"
        "found['deadline'] = PROBE.deadline(parsed)\n"
        "print(json.dumps(found))\n",
        resolv_conf="nameserver 127.0.0.1\n",
    )
    return json.loads(output)


@pytest.mark.netns
def test_a_name_with_several_addresses_pings_every_one_and_is_up_if_any_answers(
    namespace_host,
):
    # The namespace ignores echo requests to its own addresses; this side (the veth's other
    # end) answers. Every address is pinged at once: the silent ones take the whole deadline,
    # in parallel, not one after another.
    namespace_host.ignore_echo_requests()
    addresses = [
        namespace_host.ipv4,
        namespace_host.ipv6,
        namespace_host.local_ipv4,
        namespace_host.local_ipv6,
    ]

    found = ping_name_in_namespace(namespace_host, addresses, timeout="1s", **FAST)

    assert (found["addressCount"], found["answeringCount"]) == (4, 2)
    assert found["ipAddress"] in {namespace_host.local_ipv4, namespace_host.local_ipv6}
    assert (found["packetsRecv"], found["packetLoss"]) == (3, 0)
    assert found["elapsed"] < 2 * found["deadline"]


@pytest.mark.netns
def test_network_ip6_pings_only_the_names_ipv6_addresses(namespace_host):
    namespace_host.ignore_echo_requests()
    addresses = [namespace_host.local_ipv4, namespace_host.ipv6, namespace_host.local_ipv6]

    found = ping_name_in_namespace(namespace_host, addresses, network="ip6", **FAST)

    assert (found["addressCount"], found["answeringCount"]) == (2, 1)
    assert found["ipAddress"] == namespace_host.local_ipv6


@pytest.mark.netns
def test_the_outputs_are_those_of_the_fastest_address(namespace_host):
    # The namespace's own address answers after 100 ms (its userspace responder); this side
    # of the veth at once. The slow one comes first from the resolver: order does not decide.
    with namespace_host.echo_responder(delay=0.1):
        found = ping_name_in_namespace(
            namespace_host, [namespace_host.ipv4, namespace_host.local_ipv4], **FAST
        )

    assert (found["addressCount"], found["answeringCount"]) == (2, 2)
    assert found["ipAddress"] == namespace_host.local_ipv4
    assert found["avgRtt"] < 100


@pytest.mark.netns
def test_a_name_none_of_whose_addresses_answers_fails_saying_how_many(namespace_host):
    namespace_host.ignore_echo_requests()

    found = ping_name_in_namespace(
        namespace_host, [namespace_host.ipv4, namespace_host.ipv6], timeout="300ms", **FAST
    )

    assert found["failure"] == "no reply from host (none of its 2 addresses)"


@pytest.mark.netns
def test_network_both_needs_each_family_to_answer_and_reports_each(namespace_host):
    addresses = [namespace_host.local_ipv4, namespace_host.local_ipv6]

    found = ping_name_in_namespace(namespace_host, addresses, network="both", **FAST)

    assert (found["ipAddress4"], found["ipAddress6"]) == tuple(addresses)
    assert (found["packetLoss4"], found["packetLoss6"]) == (0, 0)
    assert found["avgRtt"] == max(found["avgRtt4"], found["avgRtt6"])


@pytest.mark.netns
def test_network_both_fails_naming_the_family_that_did_not_answer(namespace_host):
    # The namespace's kernel answers its own IPv4 address, not its IPv6 one.
    namespace_host.sysctl("net.ipv6.icmp.echo_ignore_all", "1")

    silent = ping_name_in_namespace(
        namespace_host, [namespace_host.ipv4, namespace_host.ipv6], network="both",
        timeout="300ms", **FAST,
    )  # fmt: skip
    unresolved = ping_name_in_namespace(
        namespace_host, [namespace_host.ipv4], network="both", **FAST
    )

    assert silent["failure"] == "IPv6: no reply from host"
    assert unresolved["failure"] == "IPv6: could not resolve host"


def test_network_both_needs_a_name():
    message = "network=both needs a host name with IPv4 and IPv6 addresses, not 127.0.0.1"

    with pytest.raises(ProbeFailure, match=f"^{re.escape(message)}$"):
        probe("127.0.0.1", network="both")
    problem = target_problem(PROBE, "::1", PROBE.parse_properties({"network": "ip4"}))
    assert problem is not None
    assert problem.startswith("invalid monitor target: ::1 is not an IPv4 address (network=ip4)")


def ping_in_subprocess(address: str) -> str:
    return (
        "import asyncio\n"
        "from monitors.probes.base import ProbeFailure\n"
        "from monitors.probes.ping import PROBE\n"
        "try:\n"
        f"    result = asyncio.run(PROBE.probe({address!r}, PROBE.parse_properties({{}})))\n"
        "    print(result.outputs['packetsRecv'])\n"
        "except ProbeFailure as failure:\n"
        "    print(failure)\n"
    )


@pytest.mark.netns
@pytest.mark.parametrize("address", ["127.0.0.1", "::1"])
def test_without_raw_sockets_it_uses_unprivileged_icmp_sockets(namespace_host, address):
    # The sysctl is per namespace, and covers ICMPv6 datagram sockets too.
    namespace_host.sysctl("net.ipv4.ping_group_range", "0 0")  # root's group may use them

    output = namespace_host.run_python(ping_in_subprocess(address), without_net_raw=True)

    assert output.strip() == "3"


@pytest.mark.netns
def test_without_any_icmp_socket_it_tells_the_operator_what_to_change(namespace_host):
    namespace_host.sysctl("net.ipv4.ping_group_range", "1 0")  # nobody may use them

    output = namespace_host.run_python(ping_in_subprocess("127.0.0.1"), without_net_raw=True)

    assert output.strip() == PERMISSION_MESSAGE


@pytest.mark.parametrize(
    ("properties", "name"),
    [
        ({"count": "abc"}, "count"),
        ({"count": "0"}, "count"),
        ({"count": "101"}, "count"),
        ({"timeout": "5"}, "timeout"),
        ({"interval": "0s"}, "interval"),
        ({"interval": "2m"}, "interval"),
        ({"size": "4"}, "size"),
        ({"size": "70000"}, "size"),
        ({"network": "ip5"}, "network"),
        ({"network": "ipv6"}, "network"),
        ({"ttl": "64"}, "ttl"),
    ],
)
def test_a_bad_property_is_refused_naming_it(properties, name):
    with pytest.raises(PropertyError, match=f"^property '{name}'") as caught:
        PROBE.parse_properties(properties)
    assert caught.value.name == name


@pytest.mark.parametrize("target", ["", "[::1]", "host:80", "a b", "http://x"])
def test_check_target_refuses_anything_but_a_host_or_address(target):
    with pytest.raises(ValueError, match=r"\S"):
        PROBE.check_target(target)


def test_a_rule_on_loss_and_round_trip_passes_through_the_engine():
    [result] = run_checks_sync(
        [CheckRequest("ping", "127.0.0.1", rule="packetLoss == 0 && avgRtt < 50")],
        concurrency=1,
    )

    assert (result.status, result.message) == (CheckStatus.OK, "")
    assert result.outputs["packetsRecv"] == 3
