"""``metrics.exposition.text_exposition`` writes exactly what ``generate_latest`` writes, but
for carriage returns, which it writes as escaped line feeds (prometheus_client: raw)."""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
)

from metrics.collectors import NanoMonCollector
from metrics.exposition import text_exposition
from results.models import MonitorState

ODD = ["back\\slash", "new\nline", 'quo"te', "ünï 🚀", "", "a=b,c}"]


class Families:
    """A collector yielding the given families (a fresh list on every collect)."""

    def __init__(self, build) -> None:
        self.build = build

    def collect(self):
        return self.build()


def reference(collector) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return generate_latest(registry)


def assorted_families():
    gauge = GaugeMetricFamily("g", "a gauge\nwith \\ help", labels=["zeta", "alpha", "bad-name"])
    for index, text in enumerate(ODD):
        gauge.add_metric([text, str(index), "x"], index / 3)
    for value in (0.0, -0.0, 1e-7, 1234567.0, 1e20, 2**53, math.inf, -math.inf, math.nan, -5):
        gauge.add_metric(["v", repr(value), "y"], value, timestamp=1_700_000_000.25)
    unlabelled = GaugeMetricFamily("plain", "no labels", value=42)
    counter = CounterMetricFamily("events", "counted", labels=["kind"], created=1_700_000_000.5)
    counter.add_metric(["a"], 3, created=1_700_000_001.0)
    counter.add_metric(["b"], 0)
    histogram = HistogramMetricFamily("lag_seconds", "a histogram", labels=["type"])
    histogram.add_metric(["http"], [("0.1", 2.0), ("1.0", 5.0), ("+Inf", 6.0)], sum_value=1.5)
    return [gauge, unlabelled, counter, histogram]


def test_every_supported_type_and_odd_text_match_prometheus_client():
    collector = Families(assorted_families)
    assert text_exposition(collector.collect()) == reference(collector)


@pytest.mark.django_db
def test_the_collector_output_matches_prometheus_client(make_monitor, now):
    names = [*ODD[:4], "nanomon_monitors", "same name", "same-name"]
    for index, name in enumerate(names):
        monitor = make_monitor(name=name or "blank")
        MonitorState.objects.filter(monitor=monitor).update(
            last_status=index % 3,
            last_run_at=now,
            last_value=index * 1.5,
            last_outputs={"status": 200, "respTime": 12.25, "text": "x", "ok": True},
            consecutive_failures=index,
        )
    make_monitor(name="off", enabled=False)

    collector = NanoMonCollector(now=now)

    assert text_exposition(collector.collect()) == reference(collector)


def test_other_family_types_are_refused():
    with pytest.raises(ValueError, match="info families are not supported"):
        text_exposition([InfoMetricFamily("build", "an info", value={"version": "1"})])


def test_carriage_returns_are_written_as_escaped_line_feeds_never_raw():
    def families():
        gauge = GaugeMetricFamily("g", "help\rwith\r\nbreaks\n", labels=["monitor"])
        for text in ("cr\rlf\n", "crlf\r\nend", "\r", 'a\\\r"b'):
            gauge.add_metric([text], 1)
        return [gauge]

    written = text_exposition(families())

    assert b"\r" not in written
    assert written == (
        b"# HELP g help\\nwith\\nbreaks\\n\n"
        b"# TYPE g gauge\n"
        b'g{monitor="cr\\nlf\\n"} 1.0\n'
        b'g{monitor="crlf\\nend"} 1.0\n'
        b'g{monitor="\\n"} 1.0\n'
        b'g{monitor="a\\\\\\n\\"b"} 1.0\n'
    )
    # Otherwise what prometheus_client writes once the carriage returns are line feeds.
    assert b"\r" in reference(Families(families))
    assert written == reference(Families(lambda: _without_carriage_returns(families())))


def _without_carriage_returns(metrics):
    for metric in metrics:
        metric.documentation = metric.documentation.replace("\r\n", "\n").replace("\r", "\n")
        metric.samples = [
            sample._replace(
                labels={
                    key: value.replace("\r\n", "\n").replace("\r", "\n")
                    for key, value in sample.labels.items()
                }
            )
            for sample in metric.samples
        ]
    return metrics
