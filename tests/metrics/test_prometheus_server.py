"""The exposition as Prometheus itself sees it: ``promtool check metrics`` and a real server
scraping a live NanoMon. Skipped only when the binaries are missing (Debian package
``prometheus``; ``bin/nanomon test`` installs it when run as root)."""

from __future__ import annotations

import shutil
import subprocess
import urllib.parse
import urllib.request

import pytest
from django.utils import timezone

from tests.metrics.support import run_due_monitors
from tests.support.prometheus_server import (
    MISSING,
    PROMETHEUS,
    running_prometheus,
    scrape_config,
)

PROMTOOL = shutil.which("promtool")


@pytest.mark.skipif(PROMTOOL is None, reason=MISSING.format("promtool"))
@pytest.mark.django_db
def test_promtool_accepts_the_whole_exposition(
    make_monitor, http_target, tcp_port, dns_server, client, prometheus, tmp_path
):
    now = timezone.now()
    make_monitor(name="Web HTTP", kind="http", target=http_target.url("/ok"), now=now)
    make_monitor(name="Web-1 / API.v2 ✓", kind="http", target=http_target.url("/ok"), now=now)
    make_monitor(name="Api check", kind="tcp", target=f"127.0.0.1:{tcp_port}", now=now)
    make_monitor(name="api_check", kind="tcp", target=f"127.0.0.1:{tcp_port}", now=now)
    make_monitor(name="Loopback", kind="ping", target="127.0.0.1", now=now,
                 properties={"count": "1"})  # fmt: skip
    make_monitor(name="Zone", kind="dns", target="a.test", now=now,
                 properties={"server": dns_server.server})  # fmt: skip
    run_due_monitors()
    from metrics.services import notifications_count

    notifications_count(channel="email", sent=1, failed=1)

    text = client.get("/metrics").content
    (tmp_path / "metrics.txt").write_bytes(text)
    checked = subprocess.run(
        [PROMTOOL, "check", "metrics"], input=text, capture_output=True, timeout=30
    )

    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()


@pytest.mark.skipif(PROMTOOL is None, reason=MISSING.format("promtool"))
@pytest.mark.django_db
def test_promtool_accepts_monitor_names_with_carriage_returns_and_newlines(
    make_monitor, tcp_port, client, prometheus
):
    from prometheus_client.parser import text_string_to_metric_families

    now = timezone.now()
    for name in ("web\rfront", "api\nback", "both\r\nends\r", 'quote"slash\\\r'):
        make_monitor(name=name, kind="tcp", target=f"127.0.0.1:{tcp_port}", now=now)
    assert run_due_monitors() == 4

    text = client.get("/metrics").content
    checked = subprocess.run(
        [PROMTOOL, "check", "metrics"], input=text, capture_output=True, timeout=30
    )

    assert b"\r" not in text
    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()
    assert b"# HELP nanomon_web_front web\\nfront (tcp)\n" in text
    families = {f.name: f for f in text_string_to_metric_families(text.decode())}
    names = {sample.labels["monitor"] for sample in families["nanomon_monitor_up"].samples}
    assert names == {"web\nfront", "api\nback", "both\nends\n", 'quote"slash\\\n'}
    assert families["nanomon_both__ends_"].documentation == "both\nends\n (tcp)"


@pytest.mark.skipif(PROMETHEUS is None, reason=MISSING.format("prometheus"))
@pytest.mark.django_db(transaction=True)
def test_a_real_prometheus_scrapes_nanomon_and_answers_a_query(
    make_monitor, http_target, live_server, prometheus, tmp_path
):
    monitor = make_monitor(
        name="Web HTTP", kind="http", target=http_target.url("/ok"), now=timezone.now()
    )
    assert run_due_monitors() == 1
    prometheus.NANOMON_PUBLIC_READ = False
    prometheus.PROMETHEUS_BEARER_TOKEN = "prometheus-scrape-token"  # docs/metrics.md
    target = urllib.parse.urlsplit(live_server.url).netloc
    config = scrape_config(
        "nanomon",
        target,
        extra="    metrics_path: /metrics\n"
        "    authorization: {credentials: prometheus-scrape-token}\n",
    )
    with running_prometheus(config, tmp_path) as server:
        answer = server.wait_for('nanomon_web_http{result="_status"}')
        log = server.log_tail()

    assert answer is not None, log
    [series] = answer
    assert series["metric"] == {
        "__name__": "nanomon_web_http",
        "id": str(monitor.id),
        "instance": target,
        "job": "nanomon",
        "result": "_status",
        "type": "http",
    }
    assert series["value"][1] == "0"
