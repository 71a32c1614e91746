"""The prometheus probe against a real Prometheus server (Debian package ``prometheus``) that
scrapes a local exposition server: scalars, vectors, an empty vector, query errors, and the
definition's validation. The server tests are skipped only when the binary is missing."""

from __future__ import annotations

import asyncio
import urllib.parse
from collections.abc import Iterator

import pytest
from django.core.exceptions import ValidationError

from monitors.engine import CheckRequest, CheckStatus, run_checks_sync
from monitors.probes import get_probe_type
from monitors.probes import prometheus as prometheus_probe
from monitors.probes.base import ProbeFailure, ProbeResult, PropertyError
from monitors.validation import check_monitor_definition
from tests.support.http_servers import RunningServer, refused_port, serve_app
from tests.support.prometheus_server import (
    MISSING,
    PROMETHEUS,
    PrometheusServer,
    build_exposition_app,
    running_prometheus,
    scrape_config,
)

PROBE = prometheus_probe.PROBE

needs_prometheus = pytest.mark.skipif(PROMETHEUS is None, reason=MISSING.format("prometheus"))


def probe(target: str, **properties: str) -> ProbeResult:
    return asyncio.run(PROBE.probe(target, PROBE.parse_properties(properties)))


def failure(target: str, **properties: str) -> str:
    with pytest.raises(ProbeFailure) as raised:
        probe(target, **properties)
    return str(raised.value)


@pytest.fixture(scope="module")
def exporter() -> Iterator[RunningServer]:
    with serve_app(build_exposition_app()) as running:
        yield running


@pytest.fixture(scope="module")
def server(exporter, tmp_path_factory) -> Iterator[PrometheusServer]:
    """Prometheus scraping the exporter every second, once it has stored a scrape."""
    if PROMETHEUS is None:
        pytest.skip(MISSING.format("prometheus"))
    target = urllib.parse.urlsplit(exporter.url()).netloc
    directory = tmp_path_factory.mktemp("prometheus")
    with running_prometheus(scrape_config("exporter", target), directory) as running:
        answer = running.wait_for('temp_celsius{room="kitchen"}')
        assert answer is not None, running.log_tail()
        yield running


def test_it_is_registered():
    assert get_probe_type("prometheus") is PROBE


@needs_prometheus
@pytest.mark.parametrize("query", ["scalar(vector(1+1))", "2", "1 + 1"])
def test_a_scalar_is_the_value(server, query):
    result = probe(server.url, query=query)

    assert result.value == 2.0
    assert result.outputs["value"] == 2.0
    assert result.outputs["result_count"] == 1.0
    assert result.outputs["prom_timestamp"] > 1.7e9
    assert "metric" not in result.outputs


@needs_prometheus
def test_a_vectors_first_sample_is_the_value_with_its_series(server, exporter):
    result = probe(server.url + "/", query="up")

    instance = urllib.parse.urlsplit(exporter.url()).netloc
    assert result.value == 1.0
    assert result.outputs["metric"] == f'up{{instance="{instance}",job="exporter"}}'
    assert result.outputs["value"] == 1.0
    assert result.outputs["result_count"] == 1.0
    assert result.outputs["prom_timestamp"] > 1.7e9
    assert result.outputs["respTime"] > 0


@needs_prometheus
def test_label_values_come_back_escaped_and_every_sample_is_counted(server, exporter):
    result = probe(server.url, query='sort_desc(temp_celsius{room=~"hall.*"})')
    both = probe(server.url, query="sort_desc(temp_celsius)")

    instance = urllib.parse.urlsplit(exporter.url()).netloc
    assert result.value == 19.0
    assert result.outputs["metric"] == (
        f'temp_celsius{{instance="{instance}",job="exporter",'
        'note="a\\\\b\\nc",room="hall \\"north\\""}'
    )
    assert both.value == 21.5
    assert both.outputs["result_count"] == 2.0


@needs_prometheus
def test_an_empty_vector_is_ok_with_value_zero_and_no_samples(server):
    result = probe(server.url, query="absent_metric_xyz")

    assert result.value == 0.0
    assert result.outputs["result_count"] == 0.0
    assert {"metric", "value", "prom_timestamp"}.isdisjoint(result.outputs)


@needs_prometheus
def test_a_bad_query_fails_with_the_servers_error(server):
    message = failure(server.url, query="up{")

    assert message.startswith("query error: 1:4: parse error: ")


@needs_prometheus
def test_a_range_vector_or_a_string_fails(server):
    assert failure(server.url, query="up[1m]") == (
        "query returned a range vector (matrix), not an instant vector or scalar"
    )
    assert failure(server.url, query='"text"') == (
        "query returned a string, not an instant vector or scalar"
    )


@needs_prometheus
def test_a_nan_answer_fails(server):
    assert failure(server.url, query="0/0") == (
        "query returned NaN, which is not a number NanoMon can store"
    )


def test_a_server_that_is_not_prometheus_fails(exporter):
    assert failure(exporter.url("/"), query="up") == (
        "not a Prometheus query API response (HTTP 404)"
    )


def test_a_refused_connection_fails_as_the_http_probe_says():
    assert failure(f"http://127.0.0.1:{refused_port()}", query="up") == "connection refused"


def test_the_query_is_fully_encoded_under_a_path_prefix():
    url = prometheus_probe.query_url("https://example.net/prom/", 'a+b{c="d&e"}')

    assert str(url) == ("https://example.net/prom/api/v1/query?query=a%2Bb%7Bc%3D%22d%26e%22%7D")


def test_the_query_is_required_and_not_blank():
    with pytest.raises(PropertyError, match="property 'query': is required"):
        PROBE.parse_properties({})
    with pytest.raises(PropertyError, match="property 'query': must not be empty"):
        PROBE.parse_properties({"query": "   "})


def definition(**fields: object) -> dict[str, object]:
    return {
        "name": "Nodes up",
        "kind": "prometheus",
        "interval": "1m",
        "target": "http://127.0.0.1:9090",
        "rule": "result_count > 0 && value == 1",
        "properties": {"query": 'up{job="node"}'},
    } | fields


def test_a_definition_is_checked_at_save_time():
    check_monitor_definition(**definition())

    with pytest.raises(ValidationError) as missing:
        check_monitor_definition(**definition(properties={"timeout": "2s"}))
    with pytest.raises(ValidationError) as with_query:
        check_monitor_definition(**definition(target="http://127.0.0.1:9090/?x=1"))
    with pytest.raises(ValidationError) as bad_rule:
        check_monitor_definition(**definition(rule="status == 200"))

    assert missing.value.message_dict == {"properties": ["property 'query': is required"]}
    assert "without a query string" in with_query.value.message_dict["target"][0]
    assert "'status' is not an output of type prometheus" in bad_rule.value.message_dict["rule"][0]


@needs_prometheus
def test_the_engine_applies_the_rule(server):
    ok, error, empty = run_checks_sync(
        [
            CheckRequest(
                kind="prometheus",
                target=server.url,
                properties={"query": "up"},
                rule="result_count > 0 && value == 1",
            ),
            CheckRequest(
                kind="prometheus",
                target=server.url,
                properties={"query": 'temp_celsius{room="kitchen"}'},
                rule="value < 20",
            ),
            CheckRequest(
                kind="prometheus",
                target=server.url,
                properties={"query": "absent_metric_xyz"},
                rule="result_count > 0",
            ),
        ],
        4,
    )

    assert ok.status == CheckStatus.OK, ok.message
    assert error.status == CheckStatus.ERROR
    assert error.value == 21.5
    assert empty.status == CheckStatus.ERROR
    assert empty.value == 0.0


@pytest.mark.django_db
def test_the_api_refuses_a_prometheus_monitor_without_a_query(admin):
    body = {k: v for k, v in definition().items() if k != "kind"} | {"type": "prometheus"}

    created = admin.post("/api/monitors", body, format="json")
    refused = admin.post("/api/monitors", body | {"properties": {}}, format="json")

    assert created.status_code == 200, created.content
    assert created.json()["properties"] == {"query": 'up{job="node"}'}
    assert refused.status_code == 400
    assert refused.json()["detail"] == "property 'query': is required"
