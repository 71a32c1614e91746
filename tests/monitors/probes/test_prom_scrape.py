"""The prom_scrape probe against a real local exposition server: every sample kind, label
filters with escapes, valueMult, failures, and the definition's validation."""

from __future__ import annotations

import asyncio
import math
import time
import urllib.parse
from collections.abc import Iterator

import pytest
from django.core.exceptions import ValidationError

from monitors.engine import CheckRequest, CheckStatus, run_checks_sync
from monitors.probes import get_probe_type
from monitors.probes import prom_scrape as scrape_probe
from monitors.probes.base import ProbeFailure, ProbeResult, PropertyError
from monitors.validation import check_monitor_definition
from tests.support.http_servers import RunningServer, build_test_app, refused_port, serve_app
from tests.support.prometheus_server import build_exposition_app

PROBE = scrape_probe.PROBE


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


def test_it_is_registered():
    assert get_probe_type("prom_scrape") is PROBE


def test_a_gauge_gives_its_first_sample_and_every_match_as_an_output(exporter):
    result = probe(exporter.url("/metrics"), metric="temp_celsius")

    assert result.value == 21.5
    assert result.outputs['temp_celsius{room="kitchen"}'] == 21.5
    assert result.outputs['temp_celsius{note="a\\\\b\\nc",room="hall \\"north\\""}'] == 19.0
    assert result.outputs["value"] == 21.5
    assert result.outputs["result_count"] == 2.0
    assert result.outputs["respTime"] > 0


def test_a_label_filter_with_escapes_picks_the_sample(exporter):
    result = probe(
        exporter.url("/metrics"), metric="temp_celsius", labels='room="hall \\"north\\""'
    )

    assert result.value == 19.0
    assert result.outputs["result_count"] == 1.0


def test_a_label_value_with_a_backslash_and_a_newline_matches(exporter):
    result = probe(exporter.url("/metrics"), metric="temp_celsius", labels='note="a\\\\b\\nc"')

    assert result.value == 19.0


def test_a_counter_by_its_sample_or_family_name_and_value_mult(exporter):
    by_sample = probe(
        exporter.url("/metrics"), metric="requests_total", labels="code=500", valueMult="2"
    )
    by_family = probe(exporter.url("/metrics"), metric="requests", labels="code=200, path=/")

    assert by_sample.value == 6.0
    assert by_sample.outputs['requests_total{code="500",path="/"}'] == 3.0  # as scraped
    assert by_family.value == 1027.0


def test_an_untyped_sample_without_labels(exporter):
    result = probe(exporter.url("/metrics"), metric="legacy_value", valueMult="0.001")

    assert result.value == pytest.approx(0.042)
    assert result.outputs["legacy_value{}"] == 42.0


def test_a_summary_and_a_histogram_give_their_sum(exporter):
    summary = probe(exporter.url("/metrics"), metric="latency_seconds")
    histogram = probe(exporter.url("/metrics"), metric="size_bytes")
    count = probe(exporter.url("/metrics"), metric="size_bytes_count")
    bucket = probe(exporter.url("/metrics"), metric="size_bytes_bucket", labels="le=+Inf")

    assert summary.value == 12.5
    assert next(iter(summary.outputs)) == "latency_seconds_sum{}"
    assert histogram.value == 640.0
    assert count.value == 5.0
    assert bucket.value == 5.0


def test_no_matching_sample_fails(exporter):
    assert failure(exporter.url("/metrics"), metric="nope") == "no sample of nope matches"
    assert (
        failure(exporter.url("/metrics"), metric="temp_celsius", labels="room=attic")
        == 'no sample of temp_celsius matches {room="attic"}'
    )


def test_a_nan_first_match_fails(exporter):
    assert failure(exporter.url("/metrics"), metric="not_a_number") == (
        "not_a_number{} is NaN, not a number"
    )


def test_a_broken_exposition_fails(exporter):
    message = failure(exporter.url("/broken"), metric="temp_celsius")

    assert message.startswith("could not parse the exposition: ")


def test_a_non_200_answer_fails(exporter):
    assert failure(exporter.url("/status/500"), metric="x") == "scrape returned HTTP 500"
    assert failure(exporter.url("/status/404"), metric="x") == "scrape returned HTTP 404"


def test_a_refused_connection_fails_as_the_http_probe_says():
    target = f"http://127.0.0.1:{refused_port()}/metrics"

    assert failure(target, metric="x") == "connection refused"


@pytest.mark.parametrize(
    ("labels", "reason"),
    [
        ("room", "expected = after 'room'"),
        ("room=", "'room' has no value (write room=\"\" for empty)"),
        ("room=a,", "expected a label name at character 8"),
        ("room=a,room=b", "label 'room' is given twice"),
        ('room="a', "the value of 'room' has no closing quote"),
        ("room=a b", "unexpected 'b' at character 8"),
        ("1room=a", "expected a label name at character 1"),
        ('room="\\t"', "the value of 'room' has an unknown escape \\t"),
    ],
)
def test_a_bad_label_filter_is_refused_naming_the_problem(labels, reason):
    with pytest.raises(PropertyError) as raised:
        PROBE.parse_properties({"metric": "m", "labels": labels})

    assert str(raised.value).startswith("property 'labels': must be k=v pairs separated by")
    assert reason in str(raised.value)


def test_label_filters_parse():
    parse = scrape_probe.parse_labels

    assert parse("a=b") == {"a": "b"}
    assert parse(' a = b , c="d,e \\"f\\"" ') == {"a": "b", "c": 'd,e "f"'}
    assert parse('a=""') == {"a": ""}


def definition(**fields: object) -> dict[str, object]:
    return {
        "name": "Exporter",
        "kind": "prom_scrape",
        "interval": "30s",
        "target": "http://127.0.0.1:9100/metrics",
        "rule": "value < 4",
        "properties": {"metric": "node_load1"},
    } | fields


def test_a_definition_is_checked_at_save_time():
    check_monitor_definition(**definition())

    with pytest.raises(ValidationError) as missing:
        check_monitor_definition(**definition(properties={}))
    with pytest.raises(ValidationError) as bad_labels:
        check_monitor_definition(**definition(properties={"metric": "m", "labels": "a=b,"}))
    with pytest.raises(ValidationError) as bad_mult:
        check_monitor_definition(**definition(properties={"metric": "m", "valueMult": "x"}))

    assert missing.value.message_dict == {"properties": ["property 'metric': is required"]}
    assert "property 'labels': must be k=v pairs" in bad_labels.value.message_dict["properties"][0]
    assert "property 'valueMult': must be a number" in bad_mult.value.message_dict["properties"][0]


def test_the_engine_applies_the_rule_to_the_value(exporter):
    ok, error = run_checks_sync(
        [
            CheckRequest(
                kind="prom_scrape",
                target=exporter.url("/metrics"),
                properties={"metric": "temp_celsius", "labels": "room=kitchen"},
                rule="value < 25",
            ),
            CheckRequest(
                kind="prom_scrape",
                target=exporter.url("/metrics"),
                properties={"metric": "requests_total", "labels": "code=500"},
                rule="value == 0",
            ),
        ],
        4,
    )

    assert ok.status == CheckStatus.OK, ok.message
    assert ok.value == 21.5
    assert error.status == CheckStatus.ERROR
    assert error.value == 3.0
    assert not math.isnan(error.value)


@pytest.fixture(scope="module")
def web_server() -> Iterator[RunningServer]:
    with serve_app(build_test_app()) as running:
        yield running


def exposition_url(server: RunningServer, text: str) -> str:
    return server.url("/text?" + urllib.parse.urlencode({"text": text}))


def test_the_timeout_is_one_deadline_for_the_scrape(web_server):
    started = time.monotonic()

    assert failure(web_server.url("/sleep?seconds=3"), metric="x", timeout="300ms") == (
        "timed out after 300ms"
    )
    assert time.monotonic() - started < 2


def test_a_larger_exposition_than_the_cap_fails(web_server, monkeypatch):
    monkeypatch.setattr(scrape_probe, "MAX_EXPOSITION_BYTES", 1024 * 1024)

    message = failure(web_server.url(f"/bytes/{1024 * 1024 + 1}"), metric="x")

    assert message == "exposition larger than 1 MiB"


def test_at_most_fifty_samples_become_outputs_and_all_are_counted(web_server):
    text = "".join(f'many{{n="{n}"}} {n}\n' for n in range(60))

    result = probe(exposition_url(web_server, text), metric="many")

    assert result.value == 0.0
    assert result.outputs["result_count"] == 60.0
    series = [name for name in result.outputs if name.startswith("many{")]
    assert len(series) == scrape_probe.MAX_SERIES_OUTPUTS == 50
    assert result.outputs['many{n="49"}'] == 49.0


def test_a_matching_series_named_like_an_output_cannot_replace_it(web_server):
    result = probe(exposition_url(web_server, "value 7\n"), metric="value", valueMult="3")

    assert result.outputs["value"] == 21.0
    assert result.outputs["value{}"] == 7.0


@pytest.mark.django_db
def test_the_api_refuses_a_bad_label_filter_with_its_reason(admin):
    body = {k: v for k, v in definition().items() if k != "kind"} | {"type": "prom_scrape"}
    bad = body | {"properties": {"metric": "node_load1", "labels": "job=node,"}}

    created = admin.post("/api/monitors", body, format="json")
    refused = admin.post("/api/monitors", bad, format="json")

    assert created.status_code == 200, created.content
    assert refused.status_code == 400
    assert refused.json()["detail"] == (
        "property 'labels': must be k=v pairs separated by commas, e.g. "
        'job=node,instance="db:9100": expected a label name at character 10'
    )
