"""The probe network policy (NANOMON_PROBE_ALLOW / _DENY / _ALLOW_LINK_LOCAL) against real
local servers: every probe type, redirects, names that resolve to a denied address, the
allow-list, the "Test now" actions and the webhook channel.

Everything runs on loopback: 127.0.0.1 and 127.0.0.2 are two different addresses of this
machine (Linux routes all of 127.0.0.0/8 to ``lo``), so one can be denied while the other
serves. Link-local addresses are only ever refused here, never connected to.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from alerts.configuration import channel_create
from alerts.delivery import channel_send_test
from monitors.engine import CheckRequest, CheckStatus
from monitors.netpolicy import NetworkPolicy, PolicyDenied, network_policy, parse_entries
from monitors.services import check_once
from tests.support.api import token_client
from tests.support.dns_server import LocalDnsServer
from tests.support.http_servers import RunningServer, build_test_app, serve_app
from tests.support.receivers import WebhookReceiver

ROOT = Path(__file__).resolve().parents[2]
LINK_LOCAL_MESSAGE = (
    "address 169.254.169.254 is denied by the default link-local rule "
    "(NANOMON_PROBE_ALLOW_LINK_LOCAL)"
)


@pytest.fixture
def policy(settings):
    """Set the policy for one test: ``policy(allow=[…], deny=[…], link_local=False)``."""

    def apply(*, allow=(), deny=(), link_local=False) -> None:
        settings.NANOMON_PROBE_ALLOW = list(allow)
        settings.NANOMON_PROBE_DENY = list(deny)
        settings.NANOMON_PROBE_ALLOW_LINK_LOCAL = link_local

    apply()
    return apply


class CountingApp:
    """An application that counts the requests it got (a denied one must get none)."""

    def __init__(self) -> None:
        self.hits = 0

    def build(self) -> web.Application:
        app = build_test_app()

        @web.middleware
        async def count(request, handler):
            self.hits += 1
            return await handler(request)

        app.middlewares.append(count)
        return app


@pytest.fixture
def second_address() -> Iterator[tuple[RunningServer, CountingApp]]:
    """A test server on 127.0.0.2, counting its requests."""
    counting = CountingApp()
    with serve_app(counting.build(), host="127.0.0.2") as server:
        yield server, counting


@pytest.fixture
def first_address() -> Iterator[RunningServer]:
    with serve_app(build_test_app()) as server:
        yield server


def run(kind: str, target: str, **properties: str):
    return check_once(CheckRequest(kind=kind, target=target, properties=properties))


def failed_with(result, message: str) -> bool:
    return result.status == CheckStatus.FAILED and result.message == message


def use_tests_worker(request) -> None:
    """The run's tests worker, where "Test now" runs its checks on a worker (the
    ``tests_worker`` fixture); nothing where it runs them in the web process."""
    with contextlib.suppress(pytest.FixtureLookupError):
        request.getfixturevalue("tests_worker")


# --- The rules themselves ------------------------------------------------------------------------


def test_deny_wins_and_allow_when_set_is_all_that_is_allowed():
    policy = network_policy(("10.0.0.0/8", "api.example.net"), ("10.9.0.0/16",))

    assert policy.refusal("10.1.2.3") is None
    assert policy.refusal("10.9.0.1") == "address 10.9.0.1 is denied by NANOMON_PROBE_DENY"
    assert policy.refusal("192.0.2.1") == "address 192.0.2.1 is not allowed by NANOMON_PROBE_ALLOW"
    # An allowed name allows the addresses it resolves to, and names under it; deny still wins.
    assert policy.refusal("192.0.2.1", "api.example.net") is None
    assert policy.refusal("192.0.2.1", "eu.API.example.net.") is None
    assert policy.refusal("192.0.2.1", "example.net") is not None
    assert policy.refusal("10.9.0.1", "api.example.net") is not None


def test_without_allow_everything_not_denied_is_allowed_but_link_local():
    policy = network_policy()

    assert policy.refusal("192.0.2.1") is None
    assert policy.refusal("::1") is None
    assert policy.refusal("169.254.169.254") == LINK_LOCAL_MESSAGE
    assert policy.refusal("169.254.1.1") is not None
    assert policy.refusal("fe80::1%lo") is not None
    assert policy.refusal("fd00:ec2::254") is not None
    assert policy.refusal("::ffff:169.254.169.254") is not None  # IPv4-mapped: checked as IPv4


def test_the_link_local_rule_is_lifted_only_by_its_own_setting():
    assert network_policy((), (), True).refusal("169.254.169.254") is None
    # An ALLOW entry does not lift it: the rule is a deny, and deny wins.
    allowing = network_policy(("169.254.0.0/16",))
    assert allowing.refusal("169.254.169.254") == LINK_LOCAL_MESSAGE
    assert network_policy(("169.254.0.0/16",), (), True).refusal("169.254.169.254") is None


def test_a_denied_name_is_refused_before_any_lookup_with_its_subdomains():
    policy = network_policy((), ("*.internal", "metadata.google.internal"))

    assert policy.name_refusal("db.internal") == "host db.internal is denied by NANOMON_PROBE_DENY"
    assert policy.name_refusal("METADATA.google.internal.") is not None
    assert policy.name_refusal("internal.example.net") is None
    assert policy.refusal("192.0.2.1", "db.internal") is not None


def test_permitted_keeps_the_allowed_addresses_in_order_and_refuses_when_none_is():
    policy = network_policy((), ("127.0.0.1",))

    assert policy.permitted("localhost", ["127.0.0.1", "::1"], str) == ["::1"]
    with pytest.raises(PolicyDenied, match=r"^address 127.0.0.1 is denied by NANOMON_PROBE_DENY$"):
        policy.permitted("localhost", ["127.0.0.1"], str)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("10.0.0.0/33", r"NANOMON_PROBE_DENY: '10.0.0.0/33' is not a CIDR"),
        ("10.0.0.1/8", r"has bits set past its prefix length: did you mean 10.0.0.0/8\?"),
        ("300.1.1.1", r"'300.1.1.1' is not a CIDR"),
        ("not a host", r"'not a host' is not a CIDR \(10.0.0.0/8\), an address or a host name"),
        ("db.lan:5432", r"'db.lan:5432' is not a CIDR"),
    ],
)
def test_a_bad_entry_is_refused_naming_the_variable(raw, message):
    with pytest.raises(ValueError, match=message):
        parse_entries("NANOMON_PROBE_DENY", [raw])


def test_a_bad_entry_stops_the_process_at_start_naming_the_variable(tmp_path):
    completed = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "NANOMON_DATA_DIR": str(tmp_path),
            "NANOMON_PROBE_ALLOW": "10.0.0.0/8, 192.168.0.0/99",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert completed.returncode != 0
    assert "ConfigError: NANOMON_PROBE_ALLOW: '192.168.0.0/99' is not a CIDR" in completed.stderr


def test_entries_parse_cidrs_addresses_and_names():
    entries = parse_entries("X", ["10.0.0.0/8", " 192.0.2.7 ", "[::1]", "fd00::/8", "*.Lan.", ""])

    assert [str(network) for network in entries.networks] == [
        "10.0.0.0/8",
        "192.0.2.7/32",
        "::1/128",
        "fd00::/8",
    ]
    assert entries.names == ("lan",)
    assert NetworkPolicy() == network_policy()


# --- http: the connector, redirects, names, the allow-list ------------------------------------


def test_http_to_a_denied_address_fails_and_sends_nothing(policy, second_address):
    server, counting = second_address
    policy(deny=["127.0.0.2"])

    result = run("http", server.url("/ok"))

    assert failed_with(result, "address 127.0.0.2 is denied by NANOMON_PROBE_DENY")
    assert counting.hits == 0


def test_a_redirect_to_a_denied_address_is_refused(policy, first_address, second_address):
    server, counting = second_address
    target = first_address.url(f"/redirect-to?location={server.url('/ok')}")
    assert run("http", target).status == CheckStatus.OK  # allowed: the redirect is followed
    assert counting.hits == 1

    policy(deny=["127.0.0.2/32"])
    result = run("http", target)

    assert failed_with(result, "address 127.0.0.2 is denied by NANOMON_PROBE_DENY")
    assert counting.hits == 1


def test_a_redirect_to_the_metadata_address_is_refused_by_default(first_address):
    target = first_address.url("/redirect-to?location=http://169.254.169.254/latest/meta-data/")

    assert failed_with(run("http", target), LINK_LOCAL_MESSAGE)


def test_a_host_name_resolving_to_a_denied_address_is_refused(policy, first_address):
    target = f"http://localhost:{first_address.port}/ok"
    assert run("http", target).status == CheckStatus.OK

    policy(deny=["127.0.0.0/8", "::1"])
    result = run("http", target)

    assert result.status == CheckStatus.FAILED
    assert result.message.endswith("is denied by NANOMON_PROBE_DENY")
    assert result.message.split()[1] in {"127.0.0.1", "::1"}  # whichever localhost gave first


def test_a_denied_host_name_is_refused_whatever_it_resolves_to(policy, first_address):
    policy(deny=["localhost"])

    result = run("http", f"http://localhost:{first_address.port}/ok")

    assert failed_with(result, "host localhost is denied by NANOMON_PROBE_DENY")
    assert run("http", first_address.url("/ok")).status == CheckStatus.OK  # by address: allowed


def test_only_the_allow_list_is_allowed(policy, first_address, second_address):
    server, counting = second_address
    policy(allow=["127.0.0.2"])

    assert run("http", server.url("/ok")).status == CheckStatus.OK
    refused = run("http", first_address.url("/ok"))
    redirected = run("http", server.url(f"/redirect-to?location={first_address.url('/ok')}"))

    assert failed_with(refused, "address 127.0.0.1 is not allowed by NANOMON_PROBE_ALLOW")
    assert failed_with(redirected, "address 127.0.0.1 is not allowed by NANOMON_PROBE_ALLOW")
    assert counting.hits == 2


def test_an_allowed_name_allows_what_it_resolves_to_but_not_the_bare_address(policy, first_address):
    policy(allow=["localhost"], deny=["::1"])

    by_name = run("http", f"http://localhost:{first_address.port}/ok")
    by_address = run("http", first_address.url("/ok"))

    assert by_name.status == CheckStatus.OK  # ::1 denied, 127.0.0.1 allowed by the name
    assert failed_with(by_address, "address 127.0.0.1 is not allowed by NANOMON_PROBE_ALLOW")


# --- tcp, ping, dns ------------------------------------------------------------------------------


def test_tcp_connects_only_where_allowed(policy):
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        assert run("tcp", f"127.0.0.1:{port}").status == CheckStatus.OK

        policy(deny=["127.0.0.1"])
        by_address = run("tcp", f"127.0.0.1:{port}")
        policy(deny=["127.0.0.0/8", "::1"])
        by_name = run("tcp", f"localhost:{port}")

    assert failed_with(by_address, "address 127.0.0.1 is denied by NANOMON_PROBE_DENY")
    assert by_name.status == CheckStatus.FAILED
    assert by_name.message.endswith("is denied by NANOMON_PROBE_DENY")
    assert failed_with(run("tcp", "169.254.169.254:80"), LINK_LOCAL_MESSAGE)


def test_ping_pings_only_where_allowed(policy):
    policy(allow=["127.0.0.2"])

    assert failed_with(
        run("ping", "127.0.0.1", count="1"),
        "address 127.0.0.1 is not allowed by NANOMON_PROBE_ALLOW",
    )
    assert failed_with(run("ping", "169.254.169.254", count="1"), LINK_LOCAL_MESSAGE)
    policy(deny=["127.0.0.0/8", "::1"])
    by_name = run("ping", "localhost", count="1")
    assert by_name.status == CheckStatus.FAILED
    assert by_name.message.endswith("is denied by NANOMON_PROBE_DENY")


def test_the_dns_server_property_is_held_to_the_policy(policy):
    with LocalDnsServer() as dns:
        assert run("dns", "a.test", server=dns.server).status == CheckStatus.OK

        policy(deny=["127.0.0.1"])
        denied = run("dns", "a.test", server=dns.server)
        queries = dns.queries
        by_name = run("dns", "a.test", server=f"localhost:{dns.port}")

    assert failed_with(denied, "DNS server: address 127.0.0.1 is denied by NANOMON_PROBE_DENY")
    assert queries == 1  # the denied run asked nothing
    # localhost's other address (::1) is allowed: the server is asked there (nothing answers).
    assert by_name.message != "could not resolve DNS server localhost"
    assert failed_with(
        run("dns", "a.test", server="169.254.169.254"), f"DNS server: {LINK_LOCAL_MESSAGE}"
    )


# --- "Test now" and the webhook channel ---------------------------------------------------------
# "Test now" may run on a worker process, which settings overrides do not reach: these use the
# default link-local rule, in force everywhere.


@pytest.mark.django_db
def test_the_api_test_actions_report_the_refusal(request, editor_user, make_monitor, first_address):
    use_tests_worker(request)
    client = token_client(editor_user)
    redirected = first_address.url("/redirect-to?location=http://169.254.169.254/latest")
    stored = make_monitor(name="metadata", kind="tcp", target="169.254.169.254:80")

    one_off = client.post("/api/monitors/test", {"target": redirected}, format="json")
    of_stored = client.post(f"/api/monitors/{stored.id}/test")

    for response in (one_off, of_stored):
        assert response.status_code == 200, response.content
        assert (response.json()["status"], response.json()["message"]) == (2, LINK_LOCAL_MESSAGE)


@pytest.mark.django_db
def test_the_test_now_button_reports_the_refusal(request, client, editor_user):
    use_tests_worker(request)
    client.force_login(editor_user)

    response = client.post(
        "/monitors/test",
        {"kind": "tcp", "target": "169.254.169.254:80", "name": "", "interval": ""},
    )

    assert response.status_code == 200
    assert LINK_LOCAL_MESSAGE in response.content.decode()


@pytest.mark.django_db
def test_the_webhook_channel_refuses_a_denied_address(policy):
    with WebhookReceiver() as receiver:
        channel = channel_create(name="hook", kind="webhook", config={"url": receiver.url()})
        policy(deny=["127.0.0.1"])
        denied = channel_send_test(channel)
        policy(deny=["127.0.0.0/8", "::1"])
        by_name = channel_send_test(
            channel_create(
                name="by name",
                kind="webhook",
                config={"url": f"http://localhost:{receiver.address.split(':')[1]}/hook"},
            )
        )
        policy()
        allowed = channel_send_test(channel)
        received = receiver.wait_for(1)

    assert (denied.succeeded, denied.error) == (
        False,
        "address 127.0.0.1 is denied by NANOMON_PROBE_DENY",
    )
    assert by_name.succeeded is False
    assert by_name.error.endswith("is denied by NANOMON_PROBE_DENY")
    assert allowed.succeeded is True
    assert len(received) == 1  # only the allowed delivery arrived


@pytest.mark.django_db
def test_the_webhook_channel_refuses_a_redirect_to_a_denied_address(
    policy, first_address, second_address
):
    server, counting = second_address
    url = first_address.url(f"/redirect-to?location={server.url('/ok')}")
    channel = channel_create(name="redirected", kind="webhook", config={"url": url})
    assert channel_send_test(channel).succeeded is True
    policy(deny=["127.0.0.2"])

    outcome = channel_send_test(channel)
    metadata = channel_send_test(
        channel_create(
            name="metadata", kind="webhook", config={"url": "http://169.254.169.254/latest"}
        )
    )

    assert (outcome.succeeded, outcome.error) == (
        False,
        "address 127.0.0.2 is denied by NANOMON_PROBE_DENY",
    )
    assert counting.hits == 1  # the first, allowed, delivery only
    assert metadata.error == LINK_LOCAL_MESSAGE


@pytest.mark.django_db
def test_the_webhook_allow_list(policy, second_address):
    server, counting = second_address
    with WebhookReceiver() as receiver:
        policy(allow=["127.0.0.2"])
        refused = channel_send_test(
            channel_create(name="one", kind="webhook", config={"url": receiver.url()})
        )
        allowed = channel_send_test(
            channel_create(name="two", kind="webhook", config={"url": server.url("/ok")})
        )

    assert refused.error == "address 127.0.0.1 is not allowed by NANOMON_PROBE_ALLOW"
    assert not receiver.requests
    assert allowed.succeeded is True
    assert counting.hits == 1
