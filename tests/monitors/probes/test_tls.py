"""The tls probe against real servers on loopback: certificates minted with chosen validity
(trustme, and cryptography for a chain with a short-lived intermediate), served at once or after
a STARTTLS preamble (aiosmtpd for SMTP, small asyncio fakes for IMAP, POP3, FTP and PostgreSQL).
"""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
import trustme
from cryptography import x509

from monitors.engine import CheckRequest, CheckStatus, run_checks_sync
from monitors.probes.base import ProbeFailure, ProbeResult, PropertyError
from monitors.probes.tls import PROBE
from tests.support.http_servers import (
    issue_cert,
    new_ca,
    refused_port,
    server_context,
    write_ca_bundle,
)
from tests.support.smtp_server import LocalSmtpServer
from tests.support.tls_servers import (
    LoopbackTlsServer,
    chain_with_intermediate,
    ftp_preamble,
    imap_preamble,
    imap_refusing,
    pop3_preamble,
    postgres_preamble,
    postgres_refusing,
)


def probe(target: str, **properties: str) -> ProbeResult:
    return asyncio.run(PROBE.probe(target, PROBE.parse_properties(properties)))


@pytest.fixture
def ca() -> trustme.CA:
    return new_ca()


@pytest.fixture
def trusted(ca, tmp_path, monkeypatch) -> trustme.CA:
    """``ca``, trusted by the probe (through NANOMON_HTTP_CA_BUNDLE, as the http probe's)."""
    monkeypatch.setenv("NANOMON_HTTP_CA_BUNDLE", write_ca_bundle(ca, tmp_path))
    return ca


def serving(leaf: trustme.LeafCert, **options) -> LoopbackTlsServer:
    return LoopbackTlsServer(server_context(leaf), **options)


def not_yet_valid_cert(ca: trustme.CA) -> trustme.LeafCert:
    now = datetime.now(UTC)
    return ca.issue_cert(
        "127.0.0.1", "localhost", not_before=now + timedelta(days=2), not_after=now + timedelta(90)
    )


# --- A good certificate: every output ----------------------------------------------------------


def test_a_valid_certificate_gives_every_output(trusted):
    leaf = issue_cert(trusted, days=90)
    with serving(leaf) as server:
        result = probe(server.target())

    parsed = x509.load_pem_x509_certificate(leaf.cert_chain_pems[0].bytes())
    outputs = result.outputs
    assert 89.9 <= outputs["certExpiryDays"] <= 90
    assert outputs["certExpiryDays"] == round(outputs["certExpiryDays"], 2)
    assert outputs["chainExpiryDays"] == outputs["certExpiryDays"]  # the CA outlives the leaf
    assert outputs["expiringSoon"] == 0
    assert outputs["subject"] == parsed.subject.rfc4514_string()
    assert outputs["issuer"] == parsed.issuer.rfc4514_string()
    assert "O=trustme" in outputs["issuer"]
    assert outputs["sans"] == "localhost, 127.0.0.1, ::1"  # DNS names, then addresses
    assert int(outputs["serial"], 16) == parsed.serial_number
    assert re.fullmatch(r"(?:[0-9A-F]{2})+", outputs["serial"])
    assert outputs["tlsVersion"] == "TLSv1.3"
    assert outputs["cipher"].startswith("TLS_")
    assert 0 < outputs["respTime"] < 5000
    assert result.value == outputs["respTime"]
    assert set(outputs) == {spec.name for spec in PROBE.outputs}


def test_ipv6_target(trusted):
    leaf = issue_cert(trusted, days=30)
    with serving(leaf, host="::1") as server:
        result = probe(server.target())

    assert server.target().startswith("[::1]:")
    assert 29.9 <= result.outputs["certExpiryDays"] <= 30


def test_a_certificate_expiring_within_warning_days_is_flagged(trusted):
    leaf = issue_cert(trusted, days=3)
    with serving(leaf) as server:
        soon = probe(server.target())
        not_soon = probe(server.target(), warningDays="2")

    assert 2.9 <= soon.outputs["certExpiryDays"] <= 3
    assert soon.outputs["expiringSoon"] == 1
    assert not_soon.outputs["expiringSoon"] == 0


def test_chain_expiry_is_the_earliest_certificate_presented(tmp_path, monkeypatch):
    context, root_bundle, intermediate = chain_with_intermediate(
        tmp_path, intermediate_days=20, leaf_days=90
    )
    monkeypatch.setenv("NANOMON_HTTP_CA_BUNDLE", root_bundle)
    with LoopbackTlsServer(context) as server:
        result = probe(server.target())

    assert 89.9 <= result.outputs["certExpiryDays"] <= 90
    assert 19.9 <= result.outputs["chainExpiryDays"] <= 20
    assert (
        result.outputs["issuer"] == intermediate.subject.rfc4514_string() == "CN=Test Intermediate"
    )


# --- Failed: each certificate problem ----------------------------------------------------------


@pytest.mark.parametrize(
    ("make_leaf", "message"),
    [
        (lambda ca: issue_cert(ca, days=-3), "TLS certificate expired"),
        (not_yet_valid_cert, "TLS certificate not yet valid"),
        (lambda ca: issue_cert(ca, names=("other.example",)), "TLS hostname mismatch"),
    ],
    ids=["expired", "not-yet-valid", "wrong-name"],
)
def test_a_bad_certificate_fails(trusted, make_leaf, message):
    with serving(make_leaf(trusted)) as server, pytest.raises(ProbeFailure) as failure:
        probe(server.target())

    assert str(failure.value) == message


def test_a_certificate_from_an_unknown_ca_fails_as_not_trusted(trusted):
    with serving(issue_cert(new_ca())) as server, pytest.raises(ProbeFailure) as failure:
        probe(server.target())

    assert str(failure.value) == "TLS certificate not trusted"


def test_a_self_signed_certificate_fails_as_not_trusted(trusted, tmp_path):
    other = new_ca()  # a CA's own certificate is self-signed: serve it as the leaf
    (tmp_path / "self.pem").write_bytes(other.cert_pem.bytes() + other.private_key_pem.bytes())
    context = server_context(issue_cert(trusted))
    context.load_cert_chain(tmp_path / "self.pem")
    with LoopbackTlsServer(context) as server, pytest.raises(ProbeFailure) as failure:
        probe(server.target())

    assert str(failure.value) == "TLS certificate not trusted"


def test_server_name_is_sent_and_checked(trusted):
    leaf = issue_cert(trusted, names=("mail.example.test",))
    with serving(leaf) as server:
        result = probe(server.target(), serverName="mail.example.test")
        with pytest.raises(ProbeFailure, match=r"^TLS hostname mismatch$"):
            probe(server.target(), serverName="www.example.test")

    assert result.outputs["sans"] == "mail.example.test"


# --- validateTLS=false: trust and name skipped, dates never -------------------------------------


def test_without_validation_untrusted_and_misnamed_certificates_pass(ca):
    # ``ca`` is not trusted here.
    with serving(issue_cert(ca, days=40, names=("other.example",))) as server:
        result = probe(server.target(), validateTLS="false")

    assert 39.9 <= result.outputs["certExpiryDays"] <= 40
    assert result.outputs["sans"] == "other.example"
    with serving(issue_cert(ca)) as server, pytest.raises(ProbeFailure, match="not trusted"):
        probe(server.target())


@pytest.mark.parametrize(
    ("make_leaf", "message"),
    [
        (lambda ca: issue_cert(ca, days=-0.5), "TLS certificate expired"),
        (not_yet_valid_cert, "TLS certificate not yet valid"),
    ],
    ids=["expired", "not-yet-valid"],
)
def test_without_validation_the_dates_still_fail(ca, make_leaf, message):
    with serving(make_leaf(ca)) as server, pytest.raises(ProbeFailure) as failure:
        probe(server.target(), validateTLS="false")

    assert str(failure.value) == message


# --- STARTTLS ----------------------------------------------------------------------------------


def test_smtp_starttls_with_aiosmtpd(trusted):
    with LocalSmtpServer(security="starttls", cert=issue_cert(trusted, days=60)) as smtp:
        result = probe(f"127.0.0.1:{smtp.port}", starttls="smtp")

    assert 59.9 <= result.outputs["certExpiryDays"] <= 60
    assert result.outputs["tlsVersion"].startswith("TLSv1.")


def test_smtp_without_starttls_fails_saying_so():
    with LocalSmtpServer() as smtp, pytest.raises(ProbeFailure) as failure:
        probe(f"127.0.0.1:{smtp.port}", starttls="smtp")

    assert str(failure.value) == "SMTP server does not offer STARTTLS"


@pytest.mark.parametrize(
    ("starttls", "preamble"),
    [
        ("imap", imap_preamble),
        ("pop3", pop3_preamble),
        ("ftp", ftp_preamble),
        ("postgres", postgres_preamble),
    ],
)
def test_starttls_preambles(trusted, starttls, preamble):
    with serving(issue_cert(trusted, days=10), preamble=preamble) as server:
        result = probe(server.target(), starttls=starttls)

    assert 9.9 <= result.outputs["certExpiryDays"] <= 10
    assert result.outputs["expiringSoon"] == 1


@pytest.mark.parametrize(
    ("starttls", "preamble", "message"),
    [
        ("imap", imap_refusing, "IMAP server refused STARTTLS: a1 BAD STARTTLS not available"),
        (
            "postgres",
            postgres_refusing,
            "PostgreSQL server does not accept TLS (answered N to SSLRequest)",
        ),
    ],
)
def test_a_refused_starttls_fails_quoting_the_server(trusted, starttls, preamble, message):
    with (
        serving(issue_cert(trusted), preamble=preamble) as server,
        pytest.raises(ProbeFailure) as failure,
    ):
        probe(server.target(), starttls=starttls)

    assert str(failure.value) == message


def test_starttls_expected_but_the_server_speaks_tls_at_once(trusted):
    with serving(issue_cert(trusted)) as server, pytest.raises(ProbeFailure) as failure:
        probe(server.target(), starttls="pop3", timeout="1s")

    assert str(failure.value) == "timed out after 1s"  # it waits for our ClientHello


def test_tls_to_a_plaintext_server_fails_the_handshake():
    with (
        LoopbackTlsServer(None, preamble=pop3_preamble) as server,
        pytest.raises(ProbeFailure) as failure,
    ):
        probe(server.target(), validateTLS="false")

    assert str(failure.value) == "TLS handshake failed (wrong version number)"


# --- Deadline, connection errors, network policy -----------------------------------------------


@pytest.mark.parametrize("starttls", ["none", "smtp"])
def test_a_server_that_never_answers_fails_on_the_one_deadline(starttls):
    with LoopbackTlsServer(None) as server:
        started = time.perf_counter()
        with pytest.raises(ProbeFailure) as failure:
            probe(server.target(), timeout="500ms", starttls=starttls)
        elapsed = time.perf_counter() - started

    assert str(failure.value) == "timed out after 500ms"
    assert 0.45 <= elapsed < 2


def test_a_closed_port_fails_with_connection_refused():
    with pytest.raises(ProbeFailure, match=r"^connection refused$"):
        probe(f"127.0.0.1:{refused_port('127.0.0.1')}")


def test_the_network_policy_refuses_before_connecting(trusted, settings):
    settings.NANOMON_PROBE_DENY = ["127.0.0.0/8"]
    with serving(issue_cert(trusted)) as server:
        with pytest.raises(ProbeFailure) as failure:
            probe(server.target())
        with pytest.raises(ProbeFailure) as by_name:
            probe(f"localhost:{server.port}")

    assert str(failure.value) == "address 127.0.0.1 is denied by NANOMON_PROBE_DENY"
    assert str(by_name.value).endswith("is denied by NANOMON_PROBE_DENY")
    assert server.connections == 0


# --- Properties and the engine -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ({"starttls": "ldap"}, "property 'starttls': must be one of none, smtp, imap"),
        ({"warningDays": "-1"}, "property 'warningDays': must be between 0 and 3650"),
        ({"serverName": "10.0.0.1"}, "property 'serverName': must be a host name"),
        ({"validateTLS": "maybe"}, "property 'validateTLS': must be true or false"),
    ],
)
def test_bad_properties_are_refused(properties, message):
    with pytest.raises(PropertyError, match=re.escape(message)):
        PROBE.parse_properties(properties)


def test_the_targets_shape_is_tcps():
    PROBE.check_target("example.net:443")
    PROBE.check_target("[2001:db8::1]:993")
    with pytest.raises(ValueError, match="missing port"):
        PROBE.check_target("example.net")


def test_the_template_rule_makes_an_expiring_certificate_an_error(trusted):
    rule = PROBE.template["rule"]
    with serving(issue_cert(trusted, days=3)) as soon, serving(issue_cert(trusted)) as later:
        expiring, fine, expired_soon = run_checks_sync(
            [
                CheckRequest("tls", soon.target(), rule=rule),
                CheckRequest("tls", later.target(), rule=rule),
                CheckRequest("tls", soon.target(), {"warningDays": "1"}, rule=rule),
            ],
            concurrency=3,
        )

    assert expiring.status == CheckStatus.ERROR
    assert expiring.message == "Rule violated: expiringSoon == 0"
    assert expiring.outputs["certExpiryDays"] < 14
    assert fine.status == CheckStatus.OK
    assert expired_soon.status == CheckStatus.OK


def test_an_expired_certificate_is_failed_by_the_engine(ca):
    with serving(issue_cert(ca, days=-1)) as server:
        [result] = run_checks_sync(
            [
                CheckRequest(
                    "tls", server.target(), {"validateTLS": "false"}, rule=PROBE.template["rule"]
                )
            ],
            concurrency=1,
        )

    assert result.status == CheckStatus.FAILED
    assert result.message == "TLS certificate expired"
    assert result.outputs is None


def test_the_connection_is_closed_when_the_probe_ends(trusted):
    with serving(issue_cert(trusted)) as server:
        probe(server.target())
        deadline = time.monotonic() + 2
        while server.finished < 1 and time.monotonic() < deadline:
            time.sleep(0.01)

    assert (server.connections, server.finished) == (1, 1)
