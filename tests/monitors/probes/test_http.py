"""The http probe against real loopback servers: outputs, TLS, deadlines, caps and failures."""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import time
import urllib.parse
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trustme

from monitors.engine import CheckRequest, CheckStatus, run_check, run_checks_sync
from monitors.probes import get_probe_type
from monitors.probes import http as http_probe
from monitors.probes.base import ProbeFailure, ProbeResult, PropertyError
from tests.support.http_servers import (
    LOOPBACK_NAMES,
    RunningServer,
    build_test_app,
    echoed,
    expired_cert,
    issue_cert,
    new_ca,
    refused_port,
    serve_app,
    serve_raw_reply,
    server_context,
    write_ca_bundle,
)

PROBE = http_probe.PROBE


def probe(target: str, **properties: str) -> ProbeResult:
    """Parse ``properties`` as the engine does and run the probe once on a fresh loop."""
    return asyncio.run(PROBE.probe(target, PROBE.parse_properties(properties)))


def failure(target: str, **properties: str) -> str:
    """The ProbeFailure message the probe raises for ``target``."""
    with pytest.raises(ProbeFailure) as raised:
        probe(target, **properties)
    return str(raised.value)


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with serve_app(build_test_app()) as running:
        yield running


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return new_ca()


@pytest.fixture(scope="module")
def ca_bundle(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    return write_ca_bundle(ca, tmp_path_factory.mktemp("ca"))


@pytest.fixture
def trust_test_ca(ca_bundle: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make validating probes trust the module's test CA (besides the system store)."""
    monkeypatch.setenv(http_probe.CA_BUNDLE_ENV, ca_bundle)


@pytest.fixture(scope="module")
def tls_server(ca: trustme.CA) -> Iterator[RunningServer]:
    """Serves a certificate from the test CA that expires in 30 days."""
    with serve_app(build_test_app(), ssl_context=server_context(issue_cert(ca, days=30))) as srv:
        yield srv


@pytest.fixture(scope="module")
def expired_tls_server(ca: trustme.CA) -> Iterator[RunningServer]:
    """Serves a certificate from the test CA that expired 3 days ago."""
    with serve_app(
        build_test_app(), ssl_context=server_context(expired_cert(ca, days_ago=3))
    ) as srv:
        yield srv


@pytest.fixture(scope="module")
def untrusted_tls_server() -> Iterator[RunningServer]:
    """Serves a certificate valid for 10 days from a CA nobody trusts."""
    leaf = issue_cert(new_ca(), days=10)
    with serve_app(build_test_app(), ssl_context=server_context(leaf)) as srv:
        yield srv


# --- Declarations ------------------------------------------------------------------------------


def test_the_registry_serves_the_http_declaration() -> None:
    assert get_probe_type("http") is PROBE
    assert PROBE.kind == "http"


def test_every_property_and_output_is_declared_with_help() -> None:
    assert [spec.name for spec in PROBE.properties] == [
        "method",
        "timeout",
        "validateTLS",
        "body",
        "headers",
        "bodyRegex",
        "userAgent",
        "network",
    ]
    assert [spec.name for spec in PROBE.outputs] == [
        "respTime",
        "status",
        "body",
        "bodyLen",
        "certExpiryDays",
        "regexMatch",
        # network=both's per-family copies (tests/monitors/probes/test_families.py)
        "respTime4",
        "respTime6",
        "status4",
        "status6",
    ]
    assert all(spec.help for spec in (*PROBE.properties, *PROBE.outputs))
    assert PROBE.property("headers").secret
    assert PROBE.transient_outputs == frozenset({"body"})


def test_defaults_are_get_five_seconds_and_validating() -> None:
    parsed = PROBE.parse_properties({})
    assert parsed["method"] == "GET"
    assert parsed["timeout"] == 5.0
    assert parsed["validateTLS"] is True
    assert parsed["body"] is None
    assert parsed["headers"] is None
    assert parsed["bodyRegex"] is None
    assert parsed["userAgent"] is None


def test_method_is_uppercased() -> None:
    assert PROBE.parse_properties({"method": "patch"})["method"] == "PATCH"


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("timeout", "5", "duration"),
        ("validateTLS", "maybe", "true or false"),
        ("headers", "{bad", "must be a JSON object of strings"),
        ("headers", "[]", "must be a JSON object of strings"),
        ("headers", '{"X-Count": 3}', "must be a JSON object of strings"),
        ("headers", '{"Bad Name": "x"}', "not a valid header name"),
        ("headers", '{"X-Evil": "a\\r\\nInjected: yes"}', "line break"),
        ("bodyRegex", "(", "invalid regular expression"),
        ("method", "GE T", "HTTP method"),
        ("userAgent", "a\nb", "line break"),
        ("foo", "bar", "unknown property"),
    ],
)
def test_bad_property_is_refused_naming_the_property(name: str, value: str, reason: str) -> None:
    with pytest.raises(PropertyError) as raised:
        PROBE.parse_properties({name: value})
    assert raised.value.name == name
    assert f"property '{name}'" in str(raised.value)
    assert reason in str(raised.value)


def test_header_errors_never_quote_the_secret_value() -> None:
    with pytest.raises(PropertyError) as raised:
        PROBE.parse_properties({"headers": '{"Authorization": "Bearer s3cret\\n"}'})
    assert "s3cret" not in str(raised.value)


@pytest.mark.parametrize(
    "target",
    ["http://example.net/", "https://example.net:8443/a?b=c", "HTTP://[::1]:80/", "http://h"],
)
def test_http_and_https_urls_with_a_host_are_valid_targets(target: str) -> None:
    PROBE.check_target(target)


@pytest.mark.parametrize(
    "target",
    ["ftp://example.net/", "example.net", "http://", "https:///path", "http://h:99999/", ""],
)
def test_other_targets_are_refused(target: str) -> None:
    with pytest.raises(ValueError, match="URL"):
        PROBE.check_target(target)


def test_body_cap_defaults_to_one_mebibyte() -> None:
    assert http_probe.max_body_bytes_from_environ({}) == 1024 * 1024
    assert http_probe.max_body_bytes_from_environ({http_probe.MAX_BODY_BYTES_ENV: " "}) == (
        1024 * 1024
    )


def test_body_cap_is_read_from_the_environment() -> None:
    assert http_probe.max_body_bytes_from_environ({"NANOMON_HTTP_MAX_BODY_BYTES": "2048"}) == 2048


@pytest.mark.parametrize("value", ["0", "-5", "1MiB", "1.5"])
def test_a_bad_body_cap_fails_loudly_naming_the_variable(value: str) -> None:
    with pytest.raises(ValueError, match="NANOMON_HTTP_MAX_BODY_BYTES"):
        http_probe.max_body_bytes_from_environ({"NANOMON_HTTP_MAX_BODY_BYTES": value})


def test_a_bad_body_cap_in_the_environment_stops_the_import() -> None:
    environment = {"PATH": "/usr/bin:/bin", "NANOMON_HTTP_MAX_BODY_BYTES": "lots"}
    completed = subprocess.run(
        [sys.executable, "-c", "import monitors.probes.http"],
        cwd=Path(__file__).resolve().parents[3],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode != 0
    assert "ValueError: NANOMON_HTTP_MAX_BODY_BYTES must be a whole number" in completed.stderr


# --- Plain HTTP --------------------------------------------------------------------------------


def test_a_plain_get_reports_time_status_body_and_length(server: RunningServer) -> None:
    result = probe(server.url("/ok"))
    outputs = result.outputs
    assert outputs["status"] == 200
    assert outputs["body"] == "hello from the test server"
    assert outputs["bodyLen"] == len(b"hello from the test server")
    assert isinstance(outputs["respTime"], float)
    assert 0 < outputs["respTime"] < 5000
    assert result.value == outputs["respTime"]
    assert "certExpiryDays" not in outputs
    assert "regexMatch" not in outputs


@pytest.mark.parametrize("code", [404, 500])
def test_error_statuses_are_successful_probes_reporting_the_code(
    server: RunningServer, code: int
) -> None:
    result = probe(server.url(f"/status/{code}"))
    assert result.outputs["status"] == code
    assert result.outputs["body"] == f"status {code}"


def test_method_body_headers_and_user_agent_reach_the_server(server: RunningServer) -> None:
    result = probe(
        server.url("/echo"),
        method="put",
        body='{"answer": 42}',
        headers='{"Content-Type": "application/json", "X-Token": "abc"}',
        userAgent="probe-test/1.0",
    )
    request = echoed(str(result.outputs["body"]))
    assert request["method"] == "PUT"
    assert request["body"] == '{"answer": 42}'
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["X-Token"] == "abc"
    assert request["headers"]["User-Agent"] == "probe-test/1.0"


def test_the_default_user_agent_is_nanomon(server: RunningServer) -> None:
    request = echoed(str(probe(server.url("/echo")).outputs["body"]))
    assert request["headers"]["User-Agent"] == http_probe.DEFAULT_USER_AGENT == "NanoMon/0.1"


def test_a_user_agent_in_headers_is_used_when_the_property_is_not_set(
    server: RunningServer,
) -> None:
    result = probe(server.url("/echo"), headers='{"user-agent": "from-headers"}')
    assert echoed(str(result.outputs["body"]))["headers"]["User-Agent"] == "from-headers"


def test_the_user_agent_property_wins_over_a_user_agent_header(server: RunningServer) -> None:
    result = probe(server.url("/echo"), headers='{"User-Agent": "header"}', userAgent="property")
    assert echoed(str(result.outputs["body"]))["headers"]["User-Agent"] == "property"


def test_a_body_is_sent_without_an_invented_content_type(server: RunningServer) -> None:
    request = echoed(str(probe(server.url("/echo"), method="POST", body="x=1").outputs["body"]))
    assert request["body"] == "x=1"
    assert "Content-Type" not in request["headers"]


def test_a_head_request_reports_the_status_and_an_empty_body(server: RunningServer) -> None:
    result = probe(server.url("/ok"), method="HEAD")
    assert result.outputs["status"] == 200
    assert result.outputs["bodyLen"] == 0
    assert result.outputs["body"] == ""


def test_ipv6_loopback_urls_work() -> None:
    with serve_app(build_test_app(), host="::1") as srv:
        result = probe(srv.url("/ok"))
    assert srv.url("/ok").startswith("http://[::1]:")
    assert result.outputs["status"] == 200


# --- bodyRegex ---------------------------------------------------------------------------------


def test_a_numeric_capture_becomes_a_float_output_and_the_value(server: RunningServer) -> None:
    result = probe(server.url("/text?text=queue+depth:+17.5+items"), bodyRegex=r"depth: ([\d.]+)")
    assert result.outputs["regexMatch"] == 17.5
    assert result.value == 17.5


def test_a_text_capture_is_a_string_and_the_value_stays_resp_time(server: RunningServer) -> None:
    result = probe(server.url("/text?text=state=green;"), bodyRegex=r"state=(\w+)")
    assert result.outputs["regexMatch"] == "green"
    assert result.value == result.outputs["respTime"]


def test_without_a_group_the_whole_match_is_captured(server: RunningServer) -> None:
    result = probe(server.url("/text?text=build+2024-05-01+ok"), bodyRegex=r"\d{4}-\d\d-\d\d")
    assert result.outputs["regexMatch"] == "2024-05-01"


def test_only_the_first_match_counts(server: RunningServer) -> None:
    result = probe(server.url("/text?text=a=1+a=2"), bodyRegex=r"a=(\d)")
    assert result.outputs["regexMatch"] == 1.0


def test_no_match_leaves_regex_match_absent(server: RunningServer) -> None:
    result = probe(server.url("/ok"), bodyRegex=r"goodbye (\w+)")
    assert "regexMatch" not in result.outputs
    assert result.value == result.outputs["respTime"]


def test_infinity_is_not_taken_as_a_number(server: RunningServer) -> None:
    result = probe(server.url("/text?text=limit=inf"), bodyRegex=r"limit=(\w+)")
    assert result.outputs["regexMatch"] == "inf"


# --- Redirects ---------------------------------------------------------------------------------


def test_redirects_are_followed_and_outputs_describe_the_final_response(
    server: RunningServer,
) -> None:
    result = probe(server.url("/redirect/3"))
    assert result.outputs["status"] == 200
    assert result.outputs["body"] == "arrived after redirects"


def test_nine_redirects_are_followed_as_go_does(server: RunningServer) -> None:
    assert probe(server.url("/redirect/9")).outputs["status"] == 200


def test_the_tenth_redirect_fails_as_too_many(server: RunningServer) -> None:
    assert failure(server.url("/redirect/10")) == "too many redirects"


def test_a_redirect_loop_fails_as_too_many_redirects(server: RunningServer) -> None:
    assert failure(server.url("/loop")) == "too many redirects"


def test_a_redirect_to_another_scheme_fails(server: RunningServer) -> None:
    target = server.url("/redirect-to?location=ftp://files.example.net/x")
    assert failure(target) == "redirect to a non-HTTP URL"


@pytest.mark.usefixtures("trust_test_ca")
def test_a_redirect_to_https_reports_the_final_certificate(
    server: RunningServer, tls_server: RunningServer
) -> None:
    location = urllib.parse.quote(tls_server.url("/ok"), safe="")
    result = probe(server.url(f"/redirect-to?location={location}"))
    assert result.outputs["body"] == "hello from the test server"
    assert result.outputs["certExpiryDays"] == pytest.approx(30, abs=0.02)


# --- Deadline and body cap ---------------------------------------------------------------------


def test_a_dripping_body_cannot_outlive_the_timeout(server: RunningServer) -> None:
    started = time.monotonic()
    message = failure(server.url("/drip?interval=0.3&duration=30"), timeout="1s")
    elapsed = time.monotonic() - started
    assert message == "timed out after 1s"
    assert 0.9 < elapsed < 2.0  # the deadline holds (timeout + 1s of slack for a loaded CI)


def test_late_headers_time_out(server: RunningServer) -> None:
    started = time.monotonic()
    message = failure(server.url("/sleep?seconds=5"), timeout="500ms")
    assert message == "timed out after 500ms"
    assert time.monotonic() - started < 1.5


def test_a_huge_body_is_read_up_to_the_cap_only(server: RunningServer) -> None:
    result = probe(server.url(f"/bytes/{5 * 1024 * 1024}"))
    assert result.outputs["status"] == 200
    assert result.outputs["bodyLen"] == http_probe.MAX_BODY_BYTES == 1024 * 1024
    assert len(str(result.outputs["body"])) == 1024 * 1024


def test_the_cap_in_force_is_the_module_setting(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http_probe, "MAX_BODY_BYTES", 1000)
    assert probe(server.url("/bytes/70000")).outputs["bodyLen"] == 1000


def test_a_body_shorter_than_the_cap_is_read_whole(server: RunningServer) -> None:
    assert probe(server.url("/bytes/200000")).outputs["bodyLen"] == 200000


# --- Network failures --------------------------------------------------------------------------


def test_a_closed_port_is_connection_refused() -> None:
    assert failure(f"http://127.0.0.1:{refused_port()}/") == "connection refused"


def test_an_unresolvable_host_is_reported_as_such() -> None:
    started = time.monotonic()
    assert failure("http://nothing.invalid/", timeout="2s") == "could not resolve host"
    assert time.monotonic() - started < 3


def test_a_server_that_hangs_up_without_answering_is_reported() -> None:
    with serve_raw_reply(b"") as srv:
        assert failure(srv.url("/")) == "server closed the connection"


def test_a_reset_connection_is_reported() -> None:
    with serve_raw_reply(b"", reset=True) as srv:
        assert failure(srv.url("/")) == "connection reset"


def test_a_reply_that_is_not_http_is_reported() -> None:
    with serve_raw_reply(b"SSH-2.0-OpenSSH_9.6\r\n\r\n") as srv:
        assert failure(srv.url("/")) == "invalid HTTP response"


def test_a_body_cut_short_is_reported() -> None:
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly a little"
    with serve_raw_reply(reply) as srv:
        assert failure(srv.url("/")) == "incomplete response body"


@pytest.mark.parametrize("target", ["http://[::1/", "http:///path", "http://a..b/"])
def test_a_url_that_cannot_be_requested_is_an_invalid_url(target: str) -> None:
    assert failure(target) == "invalid URL"


# --- TLS ---------------------------------------------------------------------------------------


@pytest.mark.usefixtures("trust_test_ca")
def test_a_trusted_certificate_reports_days_until_expiry(tls_server: RunningServer) -> None:
    result = probe(tls_server.url("/ok"))
    assert result.outputs["status"] == 200
    assert result.outputs["certExpiryDays"] == pytest.approx(30, abs=0.02)


@pytest.mark.usefixtures("trust_test_ca")
def test_certificate_expiry_is_reported_for_a_head_request(tls_server: RunningServer) -> None:
    result = probe(tls_server.url("/ok"), method="HEAD")
    assert result.outputs["certExpiryDays"] == pytest.approx(30, abs=0.02)


@pytest.mark.usefixtures("trust_test_ca")
def test_an_expired_certificate_fails(expired_tls_server: RunningServer) -> None:
    assert failure(expired_tls_server.url("/ok")) == "TLS certificate expired"


@pytest.mark.usefixtures("trust_test_ca")
def test_a_certificate_from_an_unknown_ca_is_not_trusted(
    untrusted_tls_server: RunningServer,
) -> None:
    assert failure(untrusted_tls_server.url("/ok")) == "TLS certificate not trusted"


def test_the_test_ca_is_not_trusted_without_the_bundle_variable(
    tls_server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(http_probe.CA_BUNDLE_ENV, raising=False)
    assert failure(tls_server.url("/ok")) == "TLS certificate not trusted"


@pytest.mark.usefixtures("trust_test_ca")
def test_a_certificate_for_another_name_is_a_hostname_mismatch(ca: trustme.CA) -> None:
    leaf = issue_cert(ca, days=30, names=("service.example.test",))
    with serve_app(build_test_app(), ssl_context=server_context(leaf)) as srv:
        assert failure(srv.url("/ok")) == "TLS hostname mismatch"


@pytest.mark.usefixtures("trust_test_ca")
def test_a_certificate_not_yet_valid_fails(ca: trustme.CA) -> None:
    now = datetime.now(UTC)
    leaf = ca.issue_cert(
        *LOOPBACK_NAMES, not_before=now + timedelta(days=1), not_after=now + timedelta(days=30)
    )
    with serve_app(build_test_app(), ssl_context=server_context(leaf)) as srv:
        assert failure(srv.url("/ok")) == "TLS certificate not yet valid"


def test_tls_to_a_plain_http_server_is_a_failed_handshake(server: RunningServer) -> None:
    assert failure(server.url("/ok").replace("http://", "https://")) == "TLS handshake failed"


def test_an_unreadable_ca_bundle_is_reported(
    tls_server: RunningServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(http_probe.CA_BUNDLE_ENV, str(tmp_path / "missing.pem"))
    assert failure(tls_server.url("/ok")).startswith("cannot load NANOMON_HTTP_CA_BUNDLE")


def test_without_validation_an_untrusted_certificate_is_ok_and_still_dated(
    untrusted_tls_server: RunningServer,
) -> None:
    result = probe(untrusted_tls_server.url("/ok"), validateTLS="false")
    assert result.outputs["status"] == 200
    assert result.outputs["certExpiryDays"] == pytest.approx(10, abs=0.02)


def test_without_validation_an_expired_certificate_reports_negative_days(
    expired_tls_server: RunningServer,
) -> None:
    result = probe(expired_tls_server.url("/ok"), validateTLS="false")
    assert result.outputs["status"] == 200
    assert result.outputs["certExpiryDays"] == pytest.approx(-3, abs=0.02)


def test_skipping_validation_affects_only_that_probe(untrusted_tls_server: RunningServer) -> None:
    url = untrusted_tls_server.url("/ok")

    async def both() -> list[ProbeResult | BaseException]:
        lax = PROBE.parse_properties({"validateTLS": "false"})
        strict = PROBE.parse_properties({})
        return await asyncio.gather(
            PROBE.probe(url, lax), PROBE.probe(url, strict), return_exceptions=True
        )

    lax_result, strict_result = asyncio.run(both())
    assert isinstance(lax_result, ProbeResult)
    assert isinstance(strict_result, ProbeFailure)
    assert str(strict_result) == "TLS certificate not trusted"


@pytest.mark.usefixtures("trust_test_ca")
def test_a_dripping_body_over_tls_cannot_outlive_the_timeout(tls_server: RunningServer) -> None:
    started = time.monotonic()
    message = failure(tls_server.url("/drip"), timeout="1s")
    assert message == "timed out after 1s"
    assert time.monotonic() - started < 2.0


# --- Through the engine ------------------------------------------------------------------------


def test_through_the_engine_a_200_is_ok_and_the_body_is_never_stored(
    server: RunningServer,
) -> None:
    [result] = run_checks_sync([CheckRequest(kind="http", target=server.url("/ok"))], 4)
    assert result.status is CheckStatus.OK
    assert result.message == ""
    assert result.outputs is not None
    assert result.stored_outputs is not None
    assert result.outputs["body"] == "hello from the test server"
    assert "body" not in result.stored_outputs
    assert result.stored_outputs["status"] == 200
    assert result.value == result.outputs["respTime"]


@pytest.mark.parametrize("code", [404, 500])
def test_through_the_engine_a_status_rule_turns_an_error_code_into_an_error(
    server: RunningServer, code: int
) -> None:
    request = CheckRequest(kind="http", target=server.url(f"/status/{code}"), rule="status == 200")
    [result] = run_checks_sync([request], 4)
    assert result.status is CheckStatus.ERROR
    assert result.message == "Rule violated: status == 200"
    assert result.outputs is not None
    assert result.outputs["status"] == code


def test_through_the_engine_rules_can_read_the_body_and_the_regex_match(
    server: RunningServer,
) -> None:
    request = CheckRequest(
        kind="http",
        target=server.url("/text?text=queue+depth:+3"),
        properties={"bodyRegex": r"depth: (\d+)"},
        rule="body =~ 'queue' && regexMatch < 10 && status == 200",
    )
    [result] = run_checks_sync([request], 4)
    assert result.status is CheckStatus.OK, result.message
    assert result.value == 3.0


def test_through_the_engine_a_dripping_body_fails_at_the_timeout(server: RunningServer) -> None:
    request = CheckRequest(
        kind="http",
        target=server.url("/drip?interval=0.3&duration=30"),
        properties={"timeout": "1s"},
    )
    started = time.monotonic()
    result = asyncio.run(run_check(request))
    elapsed = time.monotonic() - started
    assert result.status is CheckStatus.FAILED
    assert result.message == "timed out after 1s"
    assert result.outputs is None
    assert elapsed < 2.0


def test_through_the_engine_a_bad_property_fails_naming_it(server: RunningServer) -> None:
    request = CheckRequest(kind="http", target=server.url("/ok"), properties={"timeout": "5"})
    [result] = run_checks_sync([request], 4)
    assert result.status is CheckStatus.FAILED
    assert result.message.startswith("property 'timeout'")


def test_through_the_engine_a_non_http_target_fails_as_invalid() -> None:
    [result] = run_checks_sync([CheckRequest(kind="http", target="ftp://example.net/")], 4)
    assert result.status is CheckStatus.FAILED
    assert result.message.startswith("invalid target:")


def test_through_the_engine_failures_and_successes_share_one_batch(server: RunningServer) -> None:
    requests = [
        CheckRequest(kind="http", target=f"http://127.0.0.1:{refused_port()}/"),
        CheckRequest(kind="http", target=server.url("/ok")),
    ]
    refused, ok = run_checks_sync(requests, 4)
    assert (refused.status, refused.message) == (CheckStatus.FAILED, "connection refused")
    assert ok.status is CheckStatus.OK


@pytest.mark.usefixtures("trust_test_ca")
def test_no_tls_socket_outlives_a_timed_out_probe(tls_server: RunningServer) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        assert failure(tls_server.url("/drip"), timeout="300ms") == "timed out after 300ms"
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
