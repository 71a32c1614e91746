"""The Prometheus collector for NanoMon: per-monitor gauges, labelled families, engine counters.

Everything is read from the database at scrape time (three queries), so every web worker
serves the same numbers whichever process ran the probes. See docs/metrics.md.

NanoMon's own gauges: one family per monitor, ``nanomon_<name>`` (``metrics.naming``) with
HELP ``<name> (<type>)`` and labels ``id``, ``result``, ``type``; ``result`` is ``_status``,
``_value`` or the name of a numeric output. Two monitors whose names give the same metric name
share the family (their ``id`` labels tell them apart; HELP lists both). A monitor whose metric
name would be one of NanoMon's own family names below gets one ``_`` appended.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime

from django.conf import settings
from django.utils import timezone
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from lib.status import STATUS_HELP, STATUS_WORDS
from metrics import services
from metrics.naming import monitor_metric_name
from metrics.selectors import (
    WORKERS_SEEN_WINDOW,
    MonitorSnapshot,
    engine_counters,
    monitor_snapshots,
    workers_seen,
)
from monitors.models import Monitor

MONITOR_LABELS = ["id", "monitor", "type"]

# NanoMon's own families: name → type. Per-monitor names must avoid these and their samples.
OWN_FAMILIES = {
    "nanomon_build_info": "gauge",
    "nanomon_monitors": "gauge",
    "nanomon_monitor_enabled": "gauge",
    "nanomon_monitor_status": "gauge",
    "nanomon_monitor_up": "gauge",
    "nanomon_monitor_value": "gauge",
    "nanomon_monitor_output": "gauge",
    "nanomon_monitor_last_run_timestamp_seconds": "gauge",
    "nanomon_monitor_consecutive_failures": "gauge",
    "nanomon_probes": "counter",
    "nanomon_probes_failed": "counter",
    "nanomon_results_written": "counter",
    "nanomon_probe_duration_seconds": "histogram",
    "nanomon_schedule_lag_seconds": "histogram",
    "nanomon_schedule_slots_skipped": "counter",
    "nanomon_notifications_sent": "counter",
    "nanomon_notifications_failed": "counter",
    "nanomon_workers_seen": "gauge",
    "nanomon_worker_last_seen_timestamp_seconds": "gauge",
}
_SAMPLE_SUFFIXES = {
    "gauge": ("",),
    "counter": ("", "_total", "_created"),
    "histogram": ("", "_bucket", "_sum", "_count", "_created"),
}
RESERVED_NAMES = frozenset(
    name + suffix for name, kind in OWN_FAMILIES.items() for suffix in _SAMPLE_SUFFIXES[kind]
)


def family_name_for(monitor_name: str) -> str:
    """The metric family a monitor's NanoMon gauges live in (see the module docstring)."""
    name = monitor_metric_name(monitor_name)
    return name + "_" if name in RESERVED_NAMES else name


def numeric_outputs(outputs: dict[str, object] | None) -> Iterator[tuple[str, float]]:
    """The outputs a gauge can carry: numbers (booleans and strings are left out)."""
    for name, value in (outputs or {}).items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            yield name, float(value)


def _has_run(monitor: MonitorSnapshot) -> bool:
    """Exported with a status: enabled monitors that have run at least once."""
    return monitor.enabled and monitor.last_status is not None


class NanoMonCollector:
    """A prometheus_client collector; build one per scrape (it reads the database once)."""

    def __init__(self, *, now: datetime | None = None) -> None:
        self.now = now or timezone.now()

    def collect(self) -> Iterator[Metric]:
        monitors = monitor_snapshots()
        counters = engine_counters()
        workers = workers_seen(since=self.now - services.HEARTBEAT_KEEP)
        yield self._build_info()
        yield from self._monitor_families(monitors)
        yield from self._engine_families(counters)
        yield from self._worker_families(workers)
        yield from nanomon_gauges(monitors)

    # --- about the service -------------------------------------------------------------------

    def _build_info(self) -> Metric:
        family = GaugeMetricFamily(
            "nanomon_build_info",
            "NanoMon version and build information",
            labels=["version", "build"],
        )
        family.add_metric([settings.VERSION, settings.BUILD_INFO], 1)
        return family

    def _worker_families(self, workers: Sequence[tuple[str, datetime]]) -> Iterator[Metric]:
        recent = self.now - WORKERS_SEEN_WINDOW
        seen = GaugeMetricFamily(
            "nanomon_workers_seen",
            f"Celery workers that did work in the last "
            f"{int(WORKERS_SEEN_WINDOW.total_seconds())} seconds",
        )
        seen.add_metric([], sum(1 for _, last_seen in workers if last_seen >= recent))
        yield seen
        last = GaugeMetricFamily(
            "nanomon_worker_last_seen_timestamp_seconds",
            "When each Celery worker last did work (Unix time)",
            labels=["worker"],
        )
        for name, last_seen in workers:
            last.add_metric([name], last_seen.timestamp())
        yield last

    # --- monitors, Prometheus-style (one family per quantity, the monitor as a label) ----------

    def _monitor_families(self, monitors: Sequence[MonitorSnapshot]) -> Iterator[Metric]:
        def gauge(name: str, documentation: str, extra: Sequence[str] = ()) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, documentation, labels=[*MONITOR_LABELS, *extra])

        count = GaugeMetricFamily(
            "nanomon_monitors", "Monitors defined, by type", labels=["type", "enabled"]
        )
        counts = defaultdict(int)
        for monitor in monitors:
            counts[(monitor.kind, monitor.enabled)] += 1
        for kind in sorted({*Monitor.Kind.values, *(kind for kind, _ in counts)}):
            for enabled in (True, False):
                count.add_metric([kind, str(enabled).lower()], counts[(kind, enabled)])
        yield count

        enabled = gauge("nanomon_monitor_enabled", "1 when the monitor is enabled, else 0")
        status = gauge("nanomon_monitor_status", f"Status of the last run: {STATUS_HELP}")
        up = gauge("nanomon_monitor_up", "1 when the last run was OK, else 0")
        value = gauge("nanomon_monitor_value", "Value of the last run (usually milliseconds)")
        output = gauge(
            "nanomon_monitor_output", "Numeric outputs of the last run", extra=["output"]
        )
        last_run = gauge(
            "nanomon_monitor_last_run_timestamp_seconds", "When the last run started (Unix time)"
        )
        failures = gauge(
            "nanomon_monitor_consecutive_failures", "Non-OK runs in a row since the last OK run"
        )
        for monitor in monitors:
            labels = [str(monitor.id), monitor.name, monitor.kind]
            enabled.add_metric(labels, 1 if monitor.enabled else 0)
            if not _has_run(monitor):
                continue
            status.add_metric(labels, monitor.last_status)
            up.add_metric(labels, 1 if monitor.last_status == 0 else 0)
            value.add_metric(labels, monitor.last_value or 0.0)
            for name, number in numeric_outputs(monitor.last_outputs):
                output.add_metric([*labels, name], number)
            if monitor.last_run_at is not None:
                last_run.add_metric(labels, monitor.last_run_at.timestamp())
            failures.add_metric(labels, monitor.consecutive_failures)
        yield from (enabled, status, up, value, output, last_run, failures)

    # --- the engine's own counters -----------------------------------------------------------

    def _engine_families(self, rows: Iterable[tuple[str, str, str, float]]) -> Iterator[Metric]:
        by_name: defaultdict[str, defaultdict[tuple[str, str], float]] = defaultdict(
            lambda: defaultdict(float)
        )
        for name, label, bucket, value in rows:
            by_name[name][(label, bucket)] += value
        kinds = sorted({*Monitor.Kind.values, *(label for label, _ in by_name[services.PROBES])})

        probes = CounterMetricFamily(
            "nanomon_probes", "Probes run, by monitor type and status", labels=["type", "status"]
        )
        failed = CounterMetricFamily(
            "nanomon_probes_failed",
            "Probes that failed (status 2: network error, timeout, bad property, rule error)",
            labels=["type"],
        )
        for kind in kinds:
            for status in STATUS_WORDS.values():
                probes.add_metric([kind, status], by_name[services.PROBES][(kind, status)])
            failed.add_metric([kind], by_name[services.PROBES][(kind, "failed")])
        yield probes
        yield failed

        written = CounterMetricFamily(
            "nanomon_results_written", "Results stored, by monitor type", labels=["type"]
        )
        for kind in sorted({*kinds, *(label for label, _ in by_name[services.RESULTS_WRITTEN])}):
            written.add_metric([kind], by_name[services.RESULTS_WRITTEN][(kind, "")])
        yield written

        duration = HistogramMetricFamily(
            "nanomon_probe_duration_seconds",
            "Wall time of probes (connect to rule), by monitor type",
            labels=["type"],
        )
        for kind in kinds:
            buckets = _histogram(
                by_name[services.PROBE_DURATION_BUCKET], kind, services.PROBE_DURATION_BUCKETS
            )
            duration.add_metric(
                [kind], buckets, sum_value=by_name[services.PROBE_DURATION_SUM][(kind, "")]
            )
        yield duration

        lag = HistogramMetricFamily(
            "nanomon_schedule_lag_seconds", "How late runs started against their scheduled slot"
        )
        buckets = _histogram(
            by_name[services.SCHEDULE_LAG_BUCKET], "", services.SCHEDULE_LAG_BUCKETS
        )
        lag.add_metric([], buckets, sum_value=by_name[services.SCHEDULE_LAG_SUM][("", "")])
        yield lag

        skipped = CounterMetricFamily(
            "nanomon_schedule_slots_skipped",
            "Scheduled runs skipped because the monitor was one interval or more behind (its "
            "previous run outlasted the interval, or the dispatcher was stopped), by type",
            labels=["type"],
        )
        for kind in sorted({*kinds, *(label for label, _ in by_name[services.SLOTS_SKIPPED])}):
            skipped.add_metric([kind], by_name[services.SLOTS_SKIPPED][(kind, "")])
        yield skipped

        for name, row_name, documentation in (
            ("nanomon_notifications_sent", services.NOTIFICATIONS_SENT, "Notifications sent"),
            (
                "nanomon_notifications_failed",
                services.NOTIFICATIONS_FAILED,
                "Notification deliveries that failed",
            ),
        ):
            family = CounterMetricFamily(name, f"{documentation}, by channel", labels=["channel"])
            for (channel, _), count in sorted(by_name[row_name].items()):
                family.add_metric([channel], count)
            yield family


def _histogram(
    counts: dict[tuple[str, str], float], label: str, bounds: Sequence[float]
) -> list[tuple[str, float]]:
    """Cumulative (le, count) pairs for one label from per-bucket counts."""
    per_bucket: dict[float, float] = dict.fromkeys((*bounds, math.inf), 0.0)
    for (row_label, le), count in counts.items():
        if row_label == label:
            bound = math.inf if le == services.INF_BUCKET else float(le)
            per_bucket[bound] = per_bucket.get(bound, 0.0) + count
    cumulative, running = [], 0.0
    for bound in sorted(per_bucket):
        running += per_bucket[bound]
        cumulative.append((services.format_bound(bound), running))
    return cumulative


def nanomon_gauges(monitors: Iterable[MonitorSnapshot]) -> Iterator[Metric]:
    """NanoMon's per-monitor gauge families (module docstring), sorted by name.

    Monitors that are disabled or have not run yet export nothing here: a disabled monitor's
    last state would go on firing alerts, and a new one has no values yet.
    """
    families: dict[str, list[MonitorSnapshot]] = defaultdict(list)
    for monitor in monitors:
        if _has_run(monitor):
            families[family_name_for(monitor.name)].append(monitor)
    for name in sorted(families):
        members = families[name]
        documentation = "; ".join(dict.fromkeys(f"{m.name} ({m.kind})" for m in members))
        family = GaugeMetricFamily(name, documentation, labels=["id", "result", "type"])
        for monitor in members:
            family.add_metric([str(monitor.id), "_status", monitor.kind], monitor.last_status)
            family.add_metric([str(monitor.id), "_value", monitor.kind], monitor.last_value or 0.0)
            for output, number in numeric_outputs(monitor.last_outputs):
                family.add_metric([str(monitor.id), output, monitor.kind], number)
        yield family
