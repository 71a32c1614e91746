"""The engine's counters (one upsert per batch, in the results' transaction), heartbeats,
metric names, and the multi-process folder's compaction."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.multiprocess import MultiProcessCollector

from metrics import services
from metrics.collectors import OWN_FAMILIES, RESERVED_NAMES, NanoMonCollector, family_name_for
from metrics.models import EngineCounter, WorkerHeartbeat
from metrics.multiprocess import compact_dead_processes
from metrics.naming import monitor_metric_name


@pytest.mark.parametrize(
    ("name", "metric"),
    [
        ("Example Monitor", "nanomon_example_monitor"),
        ("Web-1 / API.v2 ✓", "nanomon_web_1___api_v2__"),
        ("a:b", "nanomon_a_b"),
        ("Ünïcode", "nanomon__n_code"),
        ("trailing space ", "nanomon_trailing_space_"),
        ("9 lives", "nanomon_9_lives"),
    ],
)
def test_monitor_names_become_legal_metric_names(name, metric):
    assert monitor_metric_name(name) == metric


def test_a_name_taken_by_nanomon_families_gets_one_underscore():
    assert "nanomon_probes_total" in RESERVED_NAMES
    assert family_name_for("probes total") == "nanomon_probes_total_"
    assert family_name_for("probe duration seconds bucket") == (
        "nanomon_probe_duration_seconds_bucket_"
    )
    assert family_name_for("probes totals") == "nanomon_probes_totals"


@pytest.mark.django_db
def test_the_reserved_names_list_every_family_the_collector_yields():
    """OWN_FAMILIES is written by hand next to the families themselves: a family added to the
    collector but not to it would let a monitor's gauges collide with it."""
    # With no monitors, the collector yields only NanoMon's own families.
    yielded = {family.name: family.type for family in NanoMonCollector().collect()}

    assert yielded == OWN_FAMILIES


@pytest.mark.parametrize(
    ("seconds", "bucket"), [(0, "0.005"), (0.005, "0.005"), (0.0051, "0.01"), (31, "+Inf")]
)
def test_a_duration_falls_in_the_smallest_bucket_that_holds_it(seconds, bucket):
    assert services.bucket_for(seconds, services.PROBE_DURATION_BUCKETS) == bucket


@pytest.mark.django_db
def test_counters_add_creates_then_increments_rows_in_one_query(django_assert_num_queries):
    with django_assert_num_queries(1):
        services.counters_add(
            {("probes", "http", "ok"): 2, ("probe_duration_sum", "http", ""): 0.5}
        )
    with django_assert_num_queries(1):
        services.counters_add({("probes", "http", "ok"): 3, ("probes", "tcp", "failed"): 1})

    assert {
        (row.name, row.label, row.bucket): row.value for row in EngineCounter.objects.all()
    } == {
        ("probes", "http", "ok"): 5,
        ("probe_duration_sum", "http", ""): 0.5,
        ("probes", "tcp", "failed"): 1,
    }


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_add_up_without_deadlocks():
    keys = [("probes", kind, "ok") for kind in ("dns", "http", "ping", "tcp")]
    errors = []

    def batch(order: int) -> None:
        try:
            for _ in range(20):
                with transaction.atomic():
                    services.counters_add(dict.fromkeys(keys[::order], 1.0))
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=batch, args=(order,)) for order in (1, -1, 1, -1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sorted(EngineCounter.objects.values_list("value", flat=True)) == [80.0] * 4


@pytest.mark.django_db
def test_a_worker_heartbeat_is_written_at_most_every_fifteen_seconds(django_assert_num_queries):
    now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    WorkerHeartbeat.objects.create(name="celery@gone", last_seen_at=now - timedelta(days=8))

    assert services.worker_heartbeat(now=now) is True  # writes, and prunes the long gone
    with django_assert_num_queries(0):
        assert services.worker_heartbeat(now=now) is False

    assert list(WorkerHeartbeat.objects.values_list("last_seen_at", flat=True)) == [now]


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _write(path: str, filename: str, values: dict[str, float]) -> None:
    mapped = MmapedDict(os.path.join(path, filename))
    for key, value in values.items():
        mapped.write_value(key, value, 0.0)
    mapped.close()


def test_compaction_folds_exited_workers_files_and_keeps_the_totals(tmp_path):
    path = str(tmp_path)
    requests = mmap_key("requests_total", "requests_total", [], [], "Requests")
    latency = mmap_key("latency", "latency_bucket", ["le"], ["0.1"], "Latency")
    gone, also_gone, alive = _dead_pid(), _dead_pid(), os.getpid()
    _write(path, f"counter_{gone}.db", {requests: 3})
    _write(path, f"counter_{also_gone}.db", {requests: 4})
    _write(path, f"counter_{alive}.db", {requests: 5})
    _write(path, f"histogram_{gone}.db", {latency: 2})
    _write(path, f"gauge_livesum_{gone}.db", {mmap_key("busy", "busy", [], [], "Busy"): 9})

    def totals():
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in MultiProcessCollector(None, path=path).collect()
            for sample in family.samples
        }

    before = totals()
    assert compact_dead_processes(path) == 4
    after = totals()

    assert after[("requests_total", ())] == before[("requests_total", ())] == 12
    assert after[("latency_bucket", (("le", "0.1"),))] == 2
    assert ("busy", ()) in before
    assert ("busy", ()) not in after  # an exited worker's gauges just go
    assert set(os.listdir(path)) == {
        ".lock",
        "counter_archive.db",
        f"counter_{alive}.db",
        "histogram_archive.db",
    }
    assert compact_dead_processes(path) == 0


def test_multi_process_mode_is_chosen_under_gunicorn_or_when_configured(monkeypatch, tmp_path):
    from metrics.multiprocess import ENV, multiprocess_dir

    monkeypatch.delenv("SERVER_SOFTWARE", raising=False)
    monkeypatch.setenv(ENV, "")
    assert multiprocess_dir(tmp_path) is None
    assert ENV not in os.environ  # an empty value would still switch prometheus_client over

    monkeypatch.setenv("SERVER_SOFTWARE", "gunicorn/23.0.0")
    assert multiprocess_dir(tmp_path) == str(tmp_path / "prometheus")
    assert os.environ[ENV] == str(tmp_path / "prometheus")

    monkeypatch.setenv(ENV, str(tmp_path / "mine"))
    assert multiprocess_dir(tmp_path) == str(tmp_path / "mine")
    assert (tmp_path / "mine").is_dir()


@pytest.mark.django_db
def test_a_batchs_counts_come_from_plain_values():
    services.engine_stats_record(
        probes=[
            services.ProbeRun(kind="tcp", status=1, duration_seconds=0.2, lag_seconds=1.5),
            services.ProbeRun(kind="", status=2, duration_seconds=-1.0, lag_seconds=-0.5),
        ],
        written=["tcp"],
    )

    counters = {(row.name, row.label, row.bucket): row.value for row in EngineCounter.objects.all()}
    assert counters[("probes", "tcp", "error")] == 1
    assert counters[("probes", "unknown", "failed")] == 1
    assert counters[("results_written", "tcp", "")] == 1
    assert ("results_written", "unknown", "") not in counters
    assert counters[("probe_duration_bucket", "unknown", "0.005")] == 1  # negative: 0
    assert counters[("schedule_lag_bucket", "", "0.01")] == 1
    assert counters[("schedule_lag_sum", "", "")] == pytest.approx(1.5)
