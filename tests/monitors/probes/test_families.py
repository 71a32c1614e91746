"""``network`` on http and tcp (ip, ip4, ip6, both: monitors/probes/families.py) against real
servers: on this machine's loopback by address (127.0.0.1 and ::1), and by name inside a
namespace, where a DNS server on the namespace's 127.0.0.1:53 (named by its resolv.conf)
resolves ``dual.test`` to 127.0.0.1 and ::1 and servers listen on the same port of each."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator

import pytest

from monitors.engine import CheckRequest, CheckStatus, run_checks_sync
from monitors.probes import get_probe_type
from monitors.probes.base import ProbeFailure, ProbeResult, PropertyError
from monitors.validation import target_problem
from tests.support import netns
from tests.support.http_servers import build_test_app, refused_port, serve_app

HTTP, TCP = get_probe_type("http"), get_probe_type("tcp")


def probe(kind: str, target: str, **properties: str) -> ProbeResult:
    probe_type = get_probe_type(kind)
    return asyncio.run(probe_type.probe(target, probe_type.parse_properties(properties)))


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, int]]:
    with (
        serve_app(build_test_app()) as ipv4,
        serve_app(build_test_app(), host="::1") as ipv6,
    ):
        yield {"127.0.0.1": ipv4.port, "::1": ipv6.port}


# --- By address, on loopback ----------------------------------------------------------------


@pytest.mark.parametrize(("address", "network"), [("127.0.0.1", "ip4"), ("::1", "ip6")])
def test_an_address_of_the_family_network_asks_for_is_probed(servers, address, network):
    host = f"[{address}]" if ":" in address else address
    port = servers[address]

    page = probe("http", f"http://{host}:{port}/ok", network=network)
    connected = probe("tcp", f"{host}:{port}", network=network)

    assert page.outputs["status"] == 200
    assert connected.outputs["ipAddress"] == address
    assert "respTime4" not in page.outputs  # per-family outputs are network=both's


@pytest.mark.parametrize(
    ("kind", "target", "network", "message"),
    [
        ("http", "http://127.0.0.1:9/", "ip6", "127.0.0.1 is not an IPv6 address (network=ip6)"),
        ("http", "http://[::1]:9/", "ip4", "::1 is not an IPv4 address (network=ip4)"),
        ("tcp", "127.0.0.1:9", "ip6", "127.0.0.1 is not an IPv6 address (network=ip6)"),
        ("tcp", "[::1]:9", "ip4", "::1 is not an IPv4 address (network=ip4)"),
        ("http", "http://[::1]:9/", "both", "network=both needs a host name with IPv4 and IPv6 "
         "addresses, not ::1"),
        ("tcp", "127.0.0.1:9", "both", "network=both needs a host name with IPv4 and IPv6 "
         "addresses, not 127.0.0.1"),
    ],
)  # fmt: skip
def test_an_address_network_cannot_reach_fails_and_is_refused_on_save(
    kind, target, network, message
):
    probe_type = get_probe_type(kind)

    with pytest.raises(ProbeFailure, match=f"^{re.escape(message)}$"):
        probe(kind, target, network=network)
    problem = target_problem(probe_type, target, probe_type.parse_properties({"network": network}))
    assert problem is not None
    assert problem.startswith(f"invalid monitor target: {message}")


@pytest.mark.parametrize("kind", ["http", "tcp"])
def test_network_takes_ip_ip4_ip6_or_both(kind):
    probe_type = get_probe_type(kind)

    assert probe_type.parse_properties({})["network"] == "ip"
    with pytest.raises(PropertyError, match=r"^property 'network': must be one of ip, ip4, ip6"):
        probe_type.parse_properties({"network": "ipv6"})


def test_the_per_family_outputs_are_declared_so_rules_may_use_them():
    assert {"respTime4", "respTime6", "status4", "status6"} <= {s.name for s in HTTP.outputs}
    assert {"respTime4", "respTime6", "ipAddress4", "ipAddress6"} <= {s.name for s in TCP.outputs}


# --- By name, in a namespace ------------------------------------------------------------------

ZONE = """
dual.test.   IN A     127.0.0.1
dual.test.   IN AAAA  ::1
v4only.test. IN A     127.0.0.1
v6only.test. IN AAAA  ::1
"""

# Inside the namespace: the DNS server, an HTTP server answering STATUS on / over each family
# named in SERVE (the same port on both), and the probes; prints each outcome as JSON.
SCRIPT = """
import asyncio, json, socket
from aiohttp import web
from monitors.probes import get_probe_type
from monitors.probes.base import ProbeFailure
from tests.support.dns_server import LocalDnsServer
from tests.support.http_servers import serve_app
from contextlib import ExitStack

SERVE, PROBES, ZONE = {serve!r}, {probes!r}, {zone!r}

def app(status):
    application = web.Application()
    application.router.add_get("/", lambda request: web.Response(status=status))
    return application

with socket.socket() as free:
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
outcomes = []
with ExitStack() as stack:
    stack.enter_context(LocalDnsServer(port=53, zone=ZONE))
    for host, status in SERVE.items():
        stack.enter_context(serve_app(app(status), host=host, port=port))
    for kind, target, properties in PROBES:
        probe_type = get_probe_type(kind)
        parsed = probe_type.parse_properties(properties)
        try:
            result = asyncio.run(probe_type.probe(target.format(port=port), parsed))
            outcomes.append({{"value": result.value, **result.outputs}})
        except ProbeFailure as failure:
            outcomes.append({{"failure": str(failure)}})
print(json.dumps(outcomes, default=str))
"""


def in_namespace(serve: dict[str, int], probes: list[tuple[str, str, dict]]) -> list[dict]:
    if reason := netns.skip_reason():
        pytest.skip(reason)
    with netns.namespace_host() as host:
        output = host.run_python(
            SCRIPT.format(serve=serve, probes=probes, zone=ZONE),
            resolv_conf="nameserver 127.0.0.1\n",
        )
    return json.loads(output)


@pytest.mark.netns
def test_both_checks_each_family_in_one_run_with_per_family_outputs():
    # Each family's server answers its own status: the outputs show which went where.
    http_both, tcp_both = in_namespace(
        {"127.0.0.1": 200, "::1": 204},
        [
            ("http", "http://dual.test:{port}/", {"network": "both"}),
            ("tcp", "dual.test:{port}", {"network": "both"}),
        ],
    )

    assert (http_both["status4"], http_both["status6"]) == (200, 204)
    slower = max(http_both["respTime4"], http_both["respTime6"])
    assert http_both["respTime"] == http_both["value"] == slower
    assert http_both["status"] == (200 if slower == http_both["respTime4"] else 204)
    assert (tcp_both["ipAddress4"], tcp_both["ipAddress6"]) == ("127.0.0.1", "::1")
    assert tcp_both["respTime"] == max(tcp_both["respTime4"], tcp_both["respTime6"])


@pytest.mark.netns
def test_ip4_and_ip6_pick_their_family_of_a_name():
    outcomes = in_namespace(
        {"127.0.0.1": 200, "::1": 204},
        [
            ("http", "http://dual.test:{port}/", {"network": "ip4"}),
            ("http", "http://dual.test:{port}/", {"network": "ip6"}),
            ("tcp", "dual.test:{port}", {"network": "ip4"}),
            ("tcp", "dual.test:{port}", {"network": "ip6"}),
            ("http", "http://v4only.test:{port}/", {"network": "ip6"}),
            ("tcp", "v6only.test:{port}", {"network": "ip4"}),
            ("http", "http://v6only.test:{port}/", {}),  # ip: whatever the name has
        ],
    )

    assert [outcome.get("status") for outcome in outcomes[:2]] == [200, 204]
    assert [outcome["ipAddress"] for outcome in outcomes[2:4]] == ["127.0.0.1", "::1"]
    assert outcomes[4] == {"failure": "could not resolve host"}
    assert outcomes[5] == {"failure": "could not resolve host"}
    assert outcomes[6]["status"] == 204


@pytest.mark.netns
def test_both_fails_naming_the_family_that_failed():
    # Only IPv4 is served: IPv6 is refused.
    outcomes = in_namespace(
        {"127.0.0.1": 200},
        [
            ("http", "http://dual.test:{port}/", {"network": "both"}),
            ("tcp", "dual.test:{port}", {"network": "both"}),
            ("tcp", "v4only.test:{port}", {"network": "both"}),
            ("tcp", "dual.test:9", {"network": "both"}),
        ],
    )

    assert outcomes == [
        {"failure": "IPv6: connection refused"},
        {"failure": "IPv6: connection refused"},
        {"failure": "IPv6: could not resolve host"},
        {"failure": "IPv4: connection refused; IPv6: connection refused"},
    ]


def test_a_failed_family_is_a_failed_run_through_the_engine(servers):
    # By address the engine refuses both, so here: ip6 over an IPv4-only port.
    [result] = run_checks_sync(
        [CheckRequest("tcp", f"[::1]:{refused_port('::1')}", {"network": "ip6"})],
        concurrency=1,
    )

    assert (result.status, result.message) == (CheckStatus.FAILED, "connection refused")
