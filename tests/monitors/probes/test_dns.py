"""The dns probe against a real DNS server on loopback (tests/support/dns_server.py).

The addresses in the answers (10.0.0.1, 2001:db8::1…) are data only: nothing contacts them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from monitors.engine import CheckRequest, CheckStatus, run_checks_sync
from monitors.probes.base import ProbeFailure, ProbeResult, PropertyError
from monitors.probes.dns import PROBE, DnsServer, lookups_for, parse_server
from tests.support import netns
from tests.support.dns_server import LocalDnsServer


@pytest.fixture(scope="module")
def dns_server() -> Iterator[LocalDnsServer]:
    with LocalDnsServer() as server:
        yield server


@pytest.fixture(scope="module")
def ipv6_dns_server() -> Iterator[LocalDnsServer]:
    with LocalDnsServer("::1") as server:
        yield server


@pytest.fixture
def silent_dns_server() -> Iterator[LocalDnsServer]:
    with LocalDnsServer(silent=True) as server:
        yield server


def look_up(target: str, server: LocalDnsServer, **properties: str) -> ProbeResult:
    parsed = PROBE.parse_properties({"server": server.server, **properties})
    return asyncio.run(PROBE.probe(target, parsed))


def results(result: ProbeResult) -> list[str]:
    """result1…resultN in order, checked against resultCount."""
    count = result.outputs["resultCount"]
    assert set(result.outputs) == {"respTime", "resultCount"} | {
        f"result{index}" for index in range(1, count + 1)
    }
    return [result.outputs[f"result{index}"] for index in range(1, count + 1)]


@pytest.mark.parametrize(
    ("target", "record_type", "expected"),
    [
        ("a.test", "A", ["10.0.0.1", "10.0.0.2"]),
        ("a.test", "AAAA", ["2001:db8::1"]),
        ("alias.test", "A", ["10.0.0.1", "10.0.0.2"]),  # the CNAME chain is followed
        ("alias.test", "CNAME", ["a.test."]),
        ("txt.test", "TXT", ["hello world", "v=spf1 -all"]),
        ("mail.test", "MX", ["mx1.test. 10", "mx2.test. 20"]),  # by preference, as Go
        ("test", "NS", ["ns1.test.", "ns2.test."]),
        ("test", "SOA", ["ns1.test. hostmaster.test. 2024010101 3600 600 86400 60"]),
        ("_sip._tcp.test", "SRV", ["10 5 5060 sip.test.", "20 5 5061 backup.test."]),
        ("1.0.0.10.in-addr.arpa", "PTR", ["a.test."]),
        ("10.0.0.1", "PTR", ["a.test."]),  # an address becomes its reverse name
        ("test", "CAA", ['0 issue "ca.example"']),
    ],
)
def test_it_reports_each_record_type_as_strings(dns_server, target, record_type, expected):
    result = look_up(target, dns_server, type=record_type)

    assert results(result) == expected
    assert result.value == result.outputs["respTime"] >= 0


def test_the_record_type_is_case_insensitive(dns_server):
    assert results(look_up("mail.test", dns_server, type="mx")) == ["mx1.test. 10", "mx2.test. 20"]


def test_it_asks_a_server_on_ipv6_loopback(ipv6_dns_server):
    assert results(look_up("a.test", ipv6_dns_server)) == ["10.0.0.1", "10.0.0.2"]


def test_a_server_given_by_name_is_resolved_first(dns_server):
    # localhost comes from /etc/hosts: no DNS query leaves the machine.
    parsed = PROBE.parse_properties({"server": f"localhost:{dns_server.port}"})

    result = asyncio.run(PROBE.probe("a.test", parsed))

    assert results(result) == ["10.0.0.1", "10.0.0.2"]


@pytest.mark.parametrize(
    ("record_type", "network", "expected"),
    [
        ("A", None, ["10.0.0.1", "10.0.0.2"]),
        ("A", "ip4", ["10.0.0.1", "10.0.0.2"]),
        ("A", "ip6", ["2001:db8::1"]),
        ("A", "ip", ["10.0.0.1", "10.0.0.2", "2001:db8::1"]),
        ("AAAA", None, ["2001:db8::1"]),
        ("AAAA", "ip", ["10.0.0.1", "10.0.0.2", "2001:db8::1"]),
        ("MX", "ip6", ["mx1.test. 10", "mx2.test. 20"]),  # network is for addresses only
    ],
)
def test_network_chooses_the_address_records(dns_server, record_type, network, expected):
    target = "mail.test" if record_type == "MX" else "a.test"
    properties = {"type": record_type} | ({"network": network} if network else {})

    assert results(look_up(target, dns_server, **properties)) == expected


@pytest.mark.parametrize(
    ("target", "network", "expected"),
    [("v4only.test", "ip", ["10.0.0.3"]), ("v6only.test", "ip", ["2001:db8::3"])],
)
def test_network_ip_succeeds_with_either_family_alone(dns_server, target, network, expected):
    assert results(look_up(target, dns_server, network=network)) == expected


def test_network_ip_fails_only_when_neither_family_has_records(dns_server):
    with pytest.raises(ProbeFailure, match=r"^no records of type A or AAAA$"):
        look_up("mail.test", dns_server, network="ip")


@pytest.mark.parametrize(
    ("record_type", "network", "queried"),
    [
        ("A", None, ("A",)),
        ("AAAA", None, ("AAAA",)),
        ("A", "ip4", ("A",)),
        ("AAAA", "ip4", ("A",)),
        ("A", "ip6", ("AAAA",)),
        ("A", "ip", ("A", "AAAA")),
        ("TXT", "ip", ("TXT",)),
    ],
)
def test_type_and_network_decide_what_is_queried(record_type, network, queried):
    assert lookups_for(record_type, network) == queried


@pytest.mark.parametrize(
    ("target", "properties", "message"),
    [
        ("nope.test", {}, "no such domain (NXDOMAIN)"),
        ("nope.test", {"network": "ip"}, "no such domain (NXDOMAIN)"),
        ("a.test", {"type": "MX"}, "no records of type MX"),
        ("a.test", {"type": "CNAME"}, "no records of type CNAME"),
        ("refused.test", {}, "server refused the query (REFUSED)"),
        ("servfail.test", {}, "server failure (SERVFAIL)"),
    ],
)
def test_a_failed_lookup_names_the_case(dns_server, target, properties, message):
    with pytest.raises(ProbeFailure) as caught:
        look_up(target, dns_server, **properties)

    assert str(caught.value) == message


def test_a_silent_server_times_out_within_the_timeout(silent_dns_server):
    started = time.monotonic()
    with pytest.raises(ProbeFailure, match=r"^timed out after 1s$"):
        look_up("a.test", silent_dns_server, timeout="1s")
    assert time.monotonic() - started <= 1 + 1


def test_a_silent_server_is_a_failed_check_through_the_engine(silent_dns_server):
    request = CheckRequest(
        "dns", "a.test", {"server": silent_dns_server.server, "timeout": "300ms"}
    )

    [result] = run_checks_sync([request], concurrency=1)

    assert (result.status, result.message) == (CheckStatus.FAILED, "timed out after 300ms")


def test_a_rule_on_the_results_passes_through_the_engine(dns_server):
    request = CheckRequest(
        "dns", "a.test", {"server": dns_server.server}, "'10.0.0.1' IN (result1, result2)"
    )
    missing = CheckRequest(
        "dns", "a.test", {"server": dns_server.server}, "'10.9.9.9' IN (result1, result2)"
    )

    passing, violated = run_checks_sync([request, missing], concurrency=2)

    assert (passing.status, passing.message) == (CheckStatus.OK, "")
    assert (violated.status, violated.message) == (
        CheckStatus.ERROR,
        "Rule violated: '10.9.9.9' IN (result1, result2)",
    )


@pytest.mark.netns
def test_without_a_server_it_asks_the_servers_in_resolv_conf():
    if reason := netns.skip_reason():
        pytest.skip(reason)
    # In a namespace, a DNS server on 127.0.0.1:53 and a resolv.conf naming it stand in for
    # the system's resolver, which must not be asked.
    with netns.namespace_host() as host:
        output = host.run_python(
            "import asyncio\n"
            "from monitors.probes.dns import PROBE\n"
            "from tests.support.dns_server import LocalDnsServer\n"
            "with LocalDnsServer(port=53):\n"
            "    result = asyncio.run(PROBE.probe('a.test', PROBE.parse_properties({})))\n"
            "print(result.outputs['result1'], result.outputs['result2'])\n",
            resolv_conf="nameserver 127.0.0.1\n",
        )

    assert output.split() == ["10.0.0.1", "10.0.0.2"]


@pytest.mark.parametrize(
    ("text", "server"),
    [
        ("192.0.2.53", DnsServer("192.0.2.53", 53)),
        ("192.0.2.53:5353", DnsServer("192.0.2.53", 5353)),
        ("2001:db8::53", DnsServer("2001:db8::53", 53)),
        ("[2001:db8::53]:5353", DnsServer("2001:db8::53", 5353)),
        ("dns.example", DnsServer("dns.example", 53)),
        ("dns.example:5353", DnsServer("dns.example", 5353)),
    ],
)
def test_the_server_property_takes_a_host_and_an_optional_port(text, server):
    assert parse_server(text) == server


@pytest.mark.parametrize(
    ("properties", "name"),
    [
        ({"type": "ZZZ"}, "type"),
        ({"network": "ip5"}, "network"),
        ({"server": "dns.example:0"}, "server"),
        ({"server": "[::1]"}, "server"),
        ({"server": "a b"}, "server"),
        ({"timeout": "5"}, "timeout"),
        ({"count": "3"}, "count"),
    ],
)
def test_a_bad_property_is_refused_naming_it(properties, name):
    with pytest.raises(PropertyError, match=f"^property '{name}'") as caught:
        PROBE.parse_properties(properties)
    assert caught.value.name == name


def test_the_defaults_are_a_two_second_a_lookup_on_the_system_servers():
    parsed = PROBE.parse_properties({})

    assert parsed == {"timeout": 2.0, "type": "A", "server": None, "network": None}
    assert PROBE.deadline(parsed) == 2.0


@pytest.mark.parametrize("target", ["example.net", "_sip._tcp.example.net", "10.0.0.1", "a."])
def test_check_target_accepts_names_and_addresses(target):
    PROBE.check_target(target)


@pytest.mark.parametrize("target", ["", "a b", "http://example.net", "a..b", "x" * 64 + ".net"])
def test_check_target_refuses_what_is_not_a_name(target):
    with pytest.raises(ValueError, match=r"\S"):
        PROBE.check_target(target)
