"""Target syntax: detect_kind's rules and the host:port splitting the probes rely on."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitors.targets import detect_kind, is_host_name, split_host_port


@pytest.mark.parametrize(
    ("target", "kind"),
    [
        ("http://example.net", "http"),
        ("https://example.net:8443/health?x=1", "http"),
        ("HTTPS://example.net/", "http"),
        ("http://[::1]:8080/", "http"),
        ("db.example.net:5432", "tcp"),
        ("localhost:80", "tcp"),
        ("192.0.2.7:22", "tcp"),
        ("[::1]:80", "tcp"),
        ("[2001:db8::1]:443", "tcp"),
        ("192.0.2.7", "ping"),
        ("::1", "ping"),
        ("2001:db8::1", "ping"),
        ("fe80::1%eth0", "ping"),
        ("::1:80", "ping"),  # a valid IPv6 address (::0.1.0.128), never "::1" port 80
        ("gateway", "ping"),
        ("example.net", "ping"),
        ("example.net.", "ping"),
        ("bücher.example", "ping"),
    ],
)
def test_it_detects_the_kind_of_a_bare_target(target, kind):
    assert detect_kind(target) == kind


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("", "empty target"),
        ("ftp://example.net", "unsupported scheme 'ftp'"),
        ("http://", "URL has no host"),
        ("example .net", "must not contain spaces"),
        (" example.net", "must not contain spaces"),
        ("[::1]", "missing port"),
        ("[::1]80", "missing port"),
        ("[example.net]:80", "is not an IPv6 address"),
        ("host:0", "between 1 and 65535"),
        ("host:99999", "between 1 and 65535"),
        ("host:http", "port must be a number"),
        ("bad_host!", "is not a URL, host:port, host name or IP address"),
        ("-leading-hyphen.example", "is not a URL"),
        ("1.2.3", "is not a URL"),
    ],
)
def test_it_refuses_an_unsupported_target_with_the_reason(target, reason):
    with pytest.raises(ValueError, match=reason):
        detect_kind(target)


@given(st.ip_addresses())
def test_any_bare_ip_address_is_a_ping_target(address):
    assert detect_kind(str(address)) == "ping"


@given(st.ip_addresses(v=6), st.integers(min_value=1, max_value=65535))
def test_any_bracketed_ipv6_address_with_a_port_is_a_tcp_target(address, port):
    assert detect_kind(f"[{address}]:{port}") == "tcp"
    assert split_host_port(f"[{address}]:{port}") == (str(address), port)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("example.net:80", ("example.net", 80)),
        ("127.0.0.1:65535", ("127.0.0.1", 65535)),
        ("[::1]:1", ("::1", 1)),
        ("[fe80::1%eth0]:22", ("fe80::1%eth0", 22)),
    ],
)
def test_it_splits_host_and_port_and_removes_the_brackets(target, expected):
    assert split_host_port(target) == expected


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("example.net", "missing port"),
        ("::1:80", "needs brackets"),
        (":80", "missing host"),
        ("example.net:", "port must be a number"),
        ("example.net:-1", "port must be a number"),
        ("[::1:80", r"missing '\]'"),
    ],
)
def test_it_refuses_a_malformed_host_and_port(target, reason):
    with pytest.raises(ValueError, match=reason):
        split_host_port(target)


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("a", True),
        ("_sip._tcp.example.net", True),
        ("x" * 63 + ".net", True),
        ("x" * 64 + ".net", False),
        ("a..b", False),
        ("a-.net", False),
        ("10.0.0.1", False),  # digits and dots only: an (IPv4) address, not a name
        ("", False),
        (".", False),
    ],
)
def test_it_checks_host_name_syntax(name, valid):
    assert is_host_name(name) is valid
