"""/metrics after real runs: NanoMon's per-monitor gauges and the labelled families."""

from __future__ import annotations

import math

import pytest
from django.utils import timezone

from monitors.services import monitor_delete, monitor_update
from results.models import MonitorState
from tests.metrics.support import run_due_monitors

pytestmark = pytest.mark.django_db


@pytest.fixture
def make(make_monitor):
    """A monitor due now (the shared factory's clock is a fixed date)."""

    def create(**fields):
        return make_monitor(now=timezone.now(), **fields)

    return create


@pytest.fixture
def one_of_each(make, http_target, tcp_port, dns_server):
    monitors = {
        "http": make(
            name="Web HTTP", kind="http", target=http_target.url("/ok"), rule="status == 200"
        ),
        "tcp": make(name="Db port", kind="tcp", target=f"127.0.0.1:{tcp_port}"),
        "ping": make(
            name="Loopback ping",
            kind="ping",
            target="127.0.0.1",
            properties={"count": "2", "interval": "10ms"},
        ),
        "dns": make(
            name="Zone lookup",
            kind="dns",
            target="a.test",
            properties={"server": dns_server.server, "type": "A"},
        ),
    }
    assert run_due_monitors() == 4
    return monitors


def test_metrics_are_not_served_when_prometheus_is_off(client, settings):
    settings.PROMETHEUS_ENABLED = False

    assert client.get("/metrics").status_code == 404


def test_every_type_is_exported_under_nanomon_names_after_real_runs(one_of_each, scrape):
    page = scrape()
    http, tcp, ping, dns = (one_of_each[kind] for kind in ("http", "tcp", "ping", "dns"))

    family = page.families["nanomon_web_http"]
    assert family.type == "gauge"
    assert family.documentation == "Web HTTP (http)"
    assert set(page.series("nanomon_web_http")) == {
        (("id", str(http.id)), ("result", result), ("type", "http"))
        for result in ("_status", "_value", "respTime", "status", "bodyLen")
    }
    assert page.value("nanomon_web_http", result="_status") == 0
    assert page.value("nanomon_web_http", result="status") == 200
    assert page.value("nanomon_web_http", result="bodyLen") == len("hello from the test server")
    assert page.value("nanomon_web_http", result="_value") == page.value(
        "nanomon_web_http", result="respTime"
    )

    assert page.families["nanomon_db_port"].documentation == "Db port (tcp)"
    assert {labels[1][1] for labels in page.series("nanomon_db_port")} == {
        "_status",
        "_value",
        "respTime",  # ipAddress is a string: not a gauge
    }
    assert page.value("nanomon_db_port", id=str(tcp.id), result="_status", type="tcp") == 0

    ping_results = {
        labels[1][1]: value for labels, value in page.series("nanomon_loopback_ping").items()
    }
    assert ping_results["_status"] == 0, "ping 127.0.0.1 failed (needs root or ping_group_range)"
    assert set(ping_results) == {
        "_status", "_value", "minRtt", "avgRtt", "maxRtt", "jitter", "packetsRecv", "packetLoss",
        "addressCount", "answeringCount",
    }  # fmt: skip
    assert (ping_results["addressCount"], ping_results["answeringCount"]) == (1, 1)
    assert ping_results["packetsRecv"] == 2
    assert ping_results["packetLoss"] == 0
    assert ping_results["minRtt"] <= ping_results["avgRtt"] <= ping_results["maxRtt"]
    assert page.value("nanomon_loopback_ping", result="_value") == ping_results["avgRtt"]
    assert page.find("nanomon_loopback_ping", id=str(ping.id), type="ping")

    dns_results = {
        labels[1][1]: value for labels, value in page.series("nanomon_zone_lookup").items()
    }
    assert dns_results["_status"] == 0
    assert dns_results["resultCount"] == 2
    assert set(dns_results) == {"_status", "_value", "respTime", "resultCount"}
    assert page.find("nanomon_zone_lookup", id=str(dns.id), type="dns")


def test_the_labelled_families_describe_every_monitor(one_of_each, scrape):
    page = scrape()
    http = one_of_each["http"]
    labels = {"id": str(http.id), "monitor": "Web HTTP", "type": "http"}

    assert page.value("nanomon_monitor_status", **labels) == 0
    assert page.value("nanomon_monitor_up", **labels) == 1
    assert page.value("nanomon_monitor_enabled", **labels) == 1
    assert page.value("nanomon_monitor_value", **labels) == page.value(
        "nanomon_web_http", result="_value"
    )
    assert page.value("nanomon_monitor_output", output="status", **labels) == 200
    state = MonitorState.objects.get(monitor=http)
    assert page.value("nanomon_monitor_last_run_timestamp_seconds", **labels) == pytest.approx(
        state.last_run_at.timestamp()
    )
    assert page.value("nanomon_monitor_consecutive_failures", **labels) == 0
    assert len(page.find("nanomon_monitor_status")) == 4
    assert page.value("nanomon_monitors", type="http", enabled="true") == 1
    assert page.value("nanomon_monitors", type="dns", enabled="false") == 0
    assert page.value("nanomon_build_info", version="0.1.0") == 1


def test_a_failed_run_exports_its_status_and_no_outputs(make, scrape):
    from tests.support.http_servers import refused_port

    monitor = make(name="down", kind="tcp", target=f"127.0.0.1:{refused_port()}")
    run_due_monitors()

    page = scrape()

    assert page.series("nanomon_down") == {
        (("id", str(monitor.id)), ("result", "_status"), ("type", "tcp")): 2,
        (("id", str(monitor.id)), ("result", "_value"), ("type", "tcp")): 0,
    }
    assert page.value("nanomon_monitor_up", monitor="down") == 0
    assert page.value("nanomon_monitor_consecutive_failures", monitor="down") == 1


def test_a_monitor_named_with_any_characters_is_exported(make, http_target, scrape):
    monitor = make(name="Web-1 / API.v2 ✓", kind="http", target=http_target.url("/ok"))
    run_due_monitors()

    page = scrape()

    family = page.families["nanomon_web_1___api_v2__"]
    assert family.documentation == "Web-1 / API.v2 ✓ (http)"
    assert page.value("nanomon_web_1___api_v2__", id=str(monitor.id), result="_status") == 0
    assert page.value("nanomon_monitor_status", monitor="Web-1 / API.v2 ✓") == 0


def test_two_monitors_whose_names_collide_share_one_family(make, http_target, tcp_port, scrape):
    first = make(name="A b", kind="http", target=http_target.url("/ok"))
    second = make(name="a_b", kind="tcp", target=f"127.0.0.1:{tcp_port}")
    run_due_monitors()

    page = scrape()

    assert page.families["nanomon_a_b"].documentation == "A b (http); a_b (tcp)"
    assert page.value("nanomon_a_b", id=str(first.id), result="_status", type="http") == 0
    assert page.value("nanomon_a_b", id=str(second.id), result="_status", type="tcp") == 0


def test_a_name_equal_to_one_of_nanomons_families_gets_an_underscore(make, tcp_port, scrape):
    monitor = make(name="Monitor status", kind="tcp", target=f"127.0.0.1:{tcp_port}")
    run_due_monitors()

    page = scrape()

    assert page.value("nanomon_monitor_status_", id=str(monitor.id), result="_status") == 0
    assert page.families["nanomon_monitor_status"].documentation.startswith("Status of the last")


def test_a_deleted_monitor_disappears(make, tcp_port, scrape):
    kept = make(name="kept", kind="tcp", target=f"127.0.0.1:{tcp_port}")
    gone = make(name="gone", kind="tcp", target=f"127.0.0.1:{tcp_port}")
    run_due_monitors()
    assert scrape().find("nanomon_gone")

    monitor_delete(gone)
    page = scrape()

    assert "nanomon_gone" not in page.families
    assert not page.find("nanomon_monitor_enabled", monitor="gone")
    assert page.value("nanomon_kept", id=str(kept.id), result="_status") == 0


def test_monitors_not_run_yet_or_disabled_export_only_whether_they_are_enabled(
    make, tcp_port, scrape
):
    paused = make(name="paused", kind="tcp", target=f"127.0.0.1:{tcp_port}")
    run_due_monitors()
    monitor_update(paused, enabled=False)
    make(name="fresh", kind="tcp", target=f"127.0.0.1:{tcp_port}")

    page = scrape()

    assert "nanomon_paused" not in page.families
    assert page.value("nanomon_monitor_enabled", monitor="paused") == 0
    assert not page.find("nanomon_monitor_status", monitor="paused")
    assert "nanomon_fresh" not in page.families
    assert page.value("nanomon_monitor_enabled", monitor="fresh") == 1
    assert not page.find("nanomon_monitor_status", monitor="fresh")


def test_a_rename_moves_the_series_to_the_new_name_after_the_next_run(make, tcp_port, scrape):
    monitor = make(name="old name", kind="tcp", target=f"127.0.0.1:{tcp_port}")
    run_due_monitors()
    monitor_update(monitor, name="new name", now=timezone.now())

    page = scrape()

    assert "nanomon_old_name" not in page.families
    assert page.value("nanomon_new_name", result="_status") == 0


def test_the_engine_counts_probes_results_durations_and_lag(one_of_each, make, scrape):
    from tests.support.http_servers import refused_port

    make(name="down", kind="tcp", target=f"127.0.0.1:{refused_port()}")
    run_due_monitors()

    page = scrape()

    assert page.value("nanomon_probes_total", type="http", status="ok") == 1
    assert page.value("nanomon_probes_total", type="tcp", status="ok") == 1
    assert page.value("nanomon_probes_total", type="tcp", status="failed") == 1
    assert page.value("nanomon_probes_failed_total", type="tcp") == 1
    assert page.value("nanomon_probes_failed_total", type="http") == 0
    assert page.value("nanomon_results_written_total", type="ping") == 1
    assert page.value("nanomon_probe_duration_seconds_count", type="tcp") == 2
    assert page.value("nanomon_probe_duration_seconds_bucket", type="tcp", le="+Inf") == 2
    assert page.value("nanomon_probe_duration_seconds_sum", type="tcp") > 0
    buckets = [
        (float(sample.labels["le"]), sample.value)
        for sample in page.find("nanomon_probe_duration_seconds_bucket", type="ping")
    ]
    assert [count for _, count in sorted(buckets)] == sorted(count for _, count in buckets)
    assert page.value("nanomon_schedule_lag_seconds_count") == 5
    assert not math.isnan(page.value("nanomon_schedule_lag_seconds_sum"))
    assert page.value("nanomon_workers_seen") == 1


def test_notifications_counted_by_the_alerts_app_are_exported(scrape):
    from metrics.services import notifications_count

    notifications_count(channel="email", sent=2)
    notifications_count(channel="email", failed=1)
    notifications_count(channel="webhook", sent=1)

    page = scrape()

    assert page.value("nanomon_notifications_sent_total", channel="email") == 2
    assert page.value("nanomon_notifications_failed_total", channel="email") == 1
    assert page.value("nanomon_notifications_sent_total", channel="webhook") == 1


def test_a_scrape_reads_the_database_in_three_queries(
    one_of_each, client, prometheus, django_assert_num_queries
):
    with django_assert_num_queries(3):
        assert client.get("/metrics").status_code == 200


def test_the_web_process_own_metrics_are_served_alongside(scrape):
    page = scrape()

    assert page.find("process_cpu_seconds_total") or page.find("python_info")
