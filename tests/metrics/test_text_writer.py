"""``metrics.exposition.text_exposition`` writes exactly what ``generate_latest`` writes."""

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
