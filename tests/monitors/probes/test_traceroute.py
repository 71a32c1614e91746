"""The traceroute probe over a real routed path: this host → r1 → r2 → target, in network
namespaces (tests/support/netns_routes.py), rerouted and shortened mid-test; and on loopback."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator

import pytest

from monitors.engine import CheckRequest, CheckStatus, run_check
from monitors.probes import REGISTRY, remembers, traceroute_trace
from monitors.probes.base import ProbeFailure, ProbeResult, PropertyError
from monitors.probes.traceroute import (
    PROBE,
    check_target,
    remembered_route,
    route_changed,
    route_of,
)
from monitors.probes.traceroute_trace import PERMISSION_MESSAGE, Answer, Trace
from tests.support import netns, netns_routes


def trace(target: str, memory: dict | None = None, **properties: str) -> ProbeResult:
    return asyncio.run(PROBE.probe(target, PROBE.parse_properties(properties), memory or {}))


def traces(target: str, runs: int, **properties: str) -> list[ProbeResult]:
    """``runs`` traces in a row, each given what the one before remembered."""
    results: list[ProbeResult] = []
    for _ in range(runs):
        results.append(trace(target, results[-1].memory if results else None, **properties))
    return results


@pytest.fixture(params=["ipv4", "ipv6"])
def path(request) -> Iterator[netns_routes.RoutedPath]:
    """The routed path, its IPv4 or its IPv6 addresses."""
    if reason := netns.skip_reason():
        pytest.skip(reason)
    with netns_routes.routed_path() as routed:
        yield routed if request.param == "ipv4" else routed.ipv6()


# --- Declarations ---------------------------------------------------------------------------


def test_it_is_registered_as_a_remembering_type_with_its_defaults():
    assert REGISTRY["traceroute"] is PROBE
    assert remembers("traceroute")
    assert PROBE.parse_properties({}) == {
        "hops": 30,
        "timeout": 10.0,
        "probes": 3,
        "protocol": "icmp",
        "network": "ip",
    }
    assert PROBE.deadline(PROBE.parse_properties({"timeout": "2s"})) == 2.0


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ({"hops": "0"}, "property 'hops': must be between 1 and 64, got 0"),
        ({"hops": "65"}, "property 'hops': must be between 1 and 64, got 65"),
        ({"probes": "11"}, "property 'probes': must be between 1 and 10, got 11"),
        ({"protocol": "tcp"}, "property 'protocol': must be one of icmp, udp, got 'tcp'"),
        ({"timeout": "10"}, "property 'timeout': must be a duration such as 500ms or 5s, got '10'"),
    ],
)
def test_bad_properties_are_refused_naming_the_property(properties, message):
    with pytest.raises(PropertyError) as refused:
        PROBE.parse_properties(properties)
    assert str(refused.value) == message


@pytest.mark.parametrize("target", ["example.net", "192.0.2.1", "2001:db8::1"])
def test_a_name_or_an_ipv4_address_is_a_target(target):
    check_target(target)


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("http://example.net/", "is not a host name or IP address"),
        ("host:80", "is not a host name or IP address"),
        ("", "empty target"),
    ],
)
def test_other_targets_are_refused(target, reason):
    with pytest.raises(ValueError, match=reason):
        check_target(target)


def test_hop_rtts_are_numbered_outputs():
    assert PROBE.output("hopRtt7") is PROBE.output("hopRtt1")
    assert PROBE.output("hopRtt1").unit == "ms"


# --- routeChanged, by definition -----------------------------------------------------------

A, B, C, X, T = "10.0.0.1", "10.0.1.1", "10.0.2.1", "10.9.9.9", "192.0.2.1"


@pytest.mark.parametrize(
    ("old", "old_reached", "new", "new_reached", "changed"),
    [
        ([A, B, T], True, [A, B, T], True, False),
        ([A, B, T], True, [A, X, T], True, True),  # another router at hop 2
        ([A, B, T], True, [A, "*", T], True, False),  # hop 2's answers were lost
        ([A, "*", T], True, [A, X, T], True, False),  # nothing known of hop 2 before
        ([A, B, T], True, [A, T], True, True),  # a hop fewer: T now at hop 2
        ([A, "*", T], True, [A, "*", C, T], True, True),  # a silent hop more: hop count
        ([A, B, T], True, [A, B, "*"], False, False),  # the target went silent: same path
        ([A, B, "*"], False, [A, B, C, T], True, False),  # reached now, same hops before
        ([A, B, T], True, [A, X], False, True),  # a router now says unreachable at hop 2
    ],
)
def test_route_changed_compares_hops_that_both_traces_got_answers_from(
    old, old_reached, new, new_reached, changed
):
    assert route_changed(old, old_reached, new, new_reached) is changed


def test_a_hops_entry_is_its_first_answered_probe_in_sending_order_not_by_arrival():
    answers = Trace(hops=3, probes=3)
    # Hop 1's third probe answers first, from another router (load balancing), then its
    # second; its first probe never answers. The destination answers at hop 2.
    answers.add(2, Answer(ttl=1, address=X, rtt_ms=1.0, reached=False, unreachable=False))
    answers.add(1, Answer(ttl=1, address=A, rtt_ms=2.0, reached=False, unreachable=False))
    answers.add(3, Answer(ttl=2, address=T, rtt_ms=3.0, reached=True, unreachable=False))

    assert route_of(answers) == ([A, T], True)


def test_an_unchanged_route_is_remembered_with_its_gaps_filled_from_the_last_one():
    assert remembered_route([A, B, T], True, [A, "*", T], True) == ([A, B, T], True)
    # An unreached trace keeps the rest of the path it was known to have.
    assert remembered_route([A, B, C, T], True, [A, B, "*"], False) == ([A, B, C, T], True)


# --- Loopback -------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["icmp", "udp"])
@pytest.mark.parametrize("address", ["127.0.0.1", "::1"])
def test_loopback_is_reached_at_the_first_hop(protocol, address):
    result = trace(address, protocol=protocol)

    outputs = result.outputs
    assert (outputs["reached"], outputs["hopCount"], outputs["route"]) == (1, 1, address)
    assert outputs["routeChanged"] == 0
    assert result.value == outputs["respTime"] == outputs["hopRtt1"]
    assert result.memory == {"route": [address], "reached": True}


@pytest.mark.parametrize(
    ("address", "network", "message"),
    [
        ("::1", "ip4", "::1 is not an IPv4 address (network=ip4)"),
        ("127.0.0.1", "ip6", "127.0.0.1 is not an IPv6 address (network=ip6)"),
    ],
)
def test_an_address_of_the_other_family_than_network_asks_for_fails(address, network, message):
    with pytest.raises(ProbeFailure, match=re.escape(message)):
        trace(address, network=network)


def test_a_name_is_resolved_and_traced():
    assert trace("localhost", network="ip4").outputs["route"] == "127.0.0.1"  # /etc/hosts


def test_concurrent_traces_each_get_their_own_answers():
    async def many() -> list[ProbeResult]:
        parsed = PROBE.parse_properties({"hops": "5"})
        return await asyncio.gather(*(PROBE.probe("127.0.0.1", parsed, {}) for _ in range(20)))

    results = asyncio.run(many())

    assert [result.outputs["route"] for result in results] == ["127.0.0.1"] * 20


def test_the_shared_socket_is_closed_when_the_last_trace_ends():
    trace("127.0.0.1", hops="2")
    trace("::1", hops="2", protocol="udp")

    assert traceroute_trace._receivers == {}


@pytest.mark.netns
def test_concurrent_traces_of_both_protocols_on_a_path_each_get_every_hop(path):
    async def many() -> list[ProbeResult]:
        return await asyncio.gather(
            *(
                PROBE.probe(path.target, PROBE.parse_properties({"protocol": protocol}), {})
                for protocol in ("icmp", "udp")
                for _ in range(25)
            )
        )

    results = asyncio.run(many())

    assert {result.outputs["route"] for result in results} == {" ".join(path.first_path())}


# --- A routed path --------------------------------------------------------------------------


@pytest.mark.netns
@pytest.mark.parametrize("protocol", ["icmp", "udp"])
def test_it_traces_each_hop_of_the_path(path, protocol):
    result = trace(path.target, protocol=protocol)

    outputs = result.outputs
    assert outputs["route"] == " ".join(path.first_path())
    assert (outputs["reached"], outputs["hopCount"], outputs["routeChanged"]) == (1, 3, 0)
    assert {"hopRtt1", "hopRtt2", "hopRtt3"} <= set(outputs)
    assert "hopRtt4" not in outputs
    assert result.value == outputs["respTime"] == outputs["hopRtt3"]
    assert result.memory == {"route": path.first_path(), "reached": True}


@pytest.mark.netns
@pytest.mark.parametrize("protocol", ["icmp", "udp"])
def test_a_rerouted_path_is_a_change_once_and_its_route_is_kept_only_then(path, protocol):
    first, same = traces(path.target, 2, protocol=protocol)
    new_route = path.reroute_via_r3()
    changed = trace(path.target, same.memory, protocol=protocol)
    after = trace(path.target, changed.memory, protocol=protocol)

    assert first.outputs["route"] == " ".join(path.first_path())
    assert (same.outputs["routeChanged"], "route" in same.outputs) == (0, False)
    assert changed.outputs["routeChanged"] == 1
    assert changed.outputs["route"] == " ".join(new_route)
    assert changed.memory == {"route": new_route, "reached": True}
    assert (after.outputs["routeChanged"], "route" in after.outputs) == (0, False)


@pytest.mark.netns
def test_a_hop_fewer_is_a_change(path):
    (first,) = traces(path.target, 1)
    new_route = path.shorten()

    shorter = trace(path.target, first.memory)

    assert (shorter.outputs["routeChanged"], shorter.outputs["hopCount"]) == (1, 2)
    assert shorter.outputs["route"] == " ".join(new_route)


@pytest.mark.netns
def test_a_hop_that_never_answers_is_a_star_and_no_change(path):
    (first,) = traces(path.target, 1)
    path.silence("r2")

    result = trace(path.target, first.memory, timeout="1s")

    r1, r2, target = path.first_path()
    assert "route" not in result.outputs  # no change: the route is not kept
    assert (result.outputs["reached"], result.outputs["hopCount"]) == (1, 3)
    assert result.outputs["routeChanged"] == 0
    assert "hopRtt2" not in result.outputs
    # What is remembered keeps the address hop 2 answered with before.
    assert result.memory == {"route": [r1, r2, target], "reached": True}
    assert trace(path.target, timeout="1s").outputs["route"] == f"{r1} * {target}"


@pytest.mark.netns
def test_a_silent_hop_before_the_destination_does_not_cost_the_whole_deadline(path):
    path.silence("r2")
    request = CheckRequest(kind="traceroute", target=path.target, properties={"timeout": "1m"})

    result = asyncio.run(run_check(request))

    # Once the destination answered, hop 2 got max(1s, 10 × the slowest answer) more.
    assert result.outputs["route"] == " ".join(path.first_path()).replace(path.address(6), "*")
    assert result.duration_seconds < 60


@pytest.mark.netns
def test_a_silent_destination_gives_the_hops_that_answered_then_a_star(path):
    result = trace(path.silent_target, timeout="1s")

    # r2 drops the packets (a blackhole route) before it would say their TTL ran out.
    assert result.outputs["route"] == f"{path.first_path()[0]} *"
    assert (result.outputs["reached"], result.outputs["hopCount"]) == (0, 1)
    assert "hopRtt2" not in result.outputs
    assert result.outputs["respTime"] >= 1000  # waited for the answers until the deadline


@pytest.mark.netns
@pytest.mark.parametrize("protocol", ["icmp", "udp"])
def test_a_router_saying_unreachable_ends_the_route_unreached(path, protocol):
    result = trace(path.unreachable_target, protocol=protocol)

    assert result.outputs["route"] == " ".join(path.first_path()[:2])
    assert (result.outputs["reached"], result.outputs["hopCount"]) == (0, 2)


@pytest.mark.netns
def test_a_path_longer_than_hops_is_not_reached(path):
    result = trace(path.target, hops="2", timeout="1s")

    assert result.outputs["route"] == " ".join(path.first_path()[:2]) + " *"
    assert (result.outputs["reached"], result.outputs["hopCount"]) == (0, 2)


@pytest.mark.netns
def test_a_silent_path_ends_within_the_deadline_the_engine_enforces(path):
    request = CheckRequest(
        kind="traceroute", target=path.silent_target, properties={"timeout": "1s"}
    )

    result = asyncio.run(run_check(request))

    # The engine cancels a probe at its deadline plus a grace: this run was not cancelled.
    assert result.status == CheckStatus.OK, result.message
    assert result.outputs["reached"] == 0


@pytest.mark.netns
def test_the_engine_passes_the_memory_and_a_rule_alerts_on_a_change(path):
    def run(memory: dict | None) -> object:
        request = CheckRequest(
            kind="traceroute", target=path.target, rule="routeChanged == 0", memory=memory
        )
        return asyncio.run(run_check(request))

    first = run(None)
    path.reroute_via_r3()
    changed = run(first.memory)
    after = run(changed.memory)

    assert (first.status, changed.status, after.status) == (
        CheckStatus.OK,
        CheckStatus.ERROR,
        CheckStatus.OK,
    )
    assert "route" in first.stored_outputs
    assert changed.stored_outputs["route"] == " ".join(path.address(o) for o in (2, 14, 33))
    assert "route" not in after.stored_outputs


@pytest.mark.netns
def test_without_raw_sockets_it_says_what_it_needs():
    if reason := netns.skip_reason():
        pytest.skip(reason)
    code = (
        "import asyncio\n"
        "from monitors.probes.base import ProbeFailure\n"
        "from monitors.probes.traceroute import PROBE\n"
        "try:\n"
        "    asyncio.run(PROBE.probe('127.0.0.1', PROBE.parse_properties({}), {}))\n"
        "except ProbeFailure as failure:\n"
        "    print(failure)\n"
    )
    with netns.namespace_host() as host:
        output = host.run_python(code, without_net_raw=True)

    assert output.strip() == PERMISSION_MESSAGE
