"""The benchmark scripts run end to end at their tiniest sizes, so they never rot.

Figures are not judged here (a shared test machine makes timings meaningless): each script
must finish, print its table and write a JSON file with the expected keys and sane values
(numbers that are finite and not negative, where a figure is a duration, rate or count).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import blackbox

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def run_script(
    module: str, *arguments: str, out_dir: Path, timeout: float = 120, waits: bool = True
) -> dict:
    """Run ``python -m <module>`` with ``arguments``; return the JSON it wrote. ``waits``:
    the script waits for a quiet machine (told not to here)."""
    wait = ["--max-wait", "0"] if waits else []
    completed = subprocess.run(
        [sys.executable, "-m", module, *arguments, *wait, "--out-dir", str(out_dir)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    written = sorted(out_dir.glob(f"{module.split('.')[-1]}-*.json"))
    assert len(written) == 1, completed.stdout
    assert str(written[0].name) in completed.stdout  # the script says where its figures are
    return json.loads(written[0].read_text())


def assert_sane(value: object, where: str = "") -> None:
    """Every number in ``value`` is finite and not negative (None means "no data")."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert_sane(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            assert_sane(item, f"{where}[{index}]")
    elif isinstance(value, bool) or value is None or isinstance(value, str):
        return
    elif isinstance(value, int | float):
        assert math.isfinite(value), where
        if "error_ms" not in where:  # measured minus true latency may be below zero
            assert value >= 0, f"{where} = {value}"


def test_the_engine_benchmark_runs_every_probe_type(tmp_path):
    # Ping needs ICMP sockets: root here, or a ping_group_range that admits the test user.
    types = ["http", "tcp", "dns", "ping"] if os.geteuid() == 0 else ["http", "tcp", "dns"]
    figures = run_script(
        "bench.engine", "--per-type", "20", "--concurrency", "10", "--addresses", "2",
        "--types", ",".join(types), out_dir=tmp_path,
    )  # fmt: skip

    assert figures["benchmark"] == "engine"
    assert set(figures["results"]) == set(types)
    for kind, by_prober in figures["results"].items():
        ours = by_prober["ours"]
        assert ours["probes"] == 20, kind
        assert ours["ok"] == 20, (kind, figures["failures"])
        for key in ("probes_per_second", "cpu_seconds_per_1000", "latency_ms", "error_ms"):
            assert key in ours, (kind, key)
        assert {"p50", "p99"} <= set(ours["latency_ms"])
        if figures["blackbox"]:
            assert by_prober["blackbox"]["probes"] == 20
            assert "probes_per_cpu_second" in by_prober["ratio_ours_to_blackbox"]
    if blackbox.find_binary() and os.geteuid() == 0:
        assert figures["blackbox"] is not None
    assert_sane(figures["results"])
    assert figures["load_average"]


def test_the_scale_benchmark_runs_the_real_loop_in_quick_mode(tmp_path):
    database = f"nanomon_bench_smoke_{os.getpid()}"
    figures = run_script(
        "bench.scale", "--quick", "--database", database, out_dir=tmp_path, timeout=150
    )

    assert figures["benchmark"] == "scale"
    (size,) = figures["sizes"]
    assert size["monitors"] == 20
    assert size["results_in_window"] > 0
    for key in ("missed_slots", "duplicate_slots", "results_per_second", "slots_expected"):
        assert key in size
    assert {"p50", "p99", "max"} <= set(size["schedule_lag_seconds"])
    assert {"beat", "worker-1", "web", "postgres"} <= set(size["processes"])
    for process in size["processes"].values():
        assert {"cpu_seconds", "cpu_percent", "peak_rss_mb"} <= set(process)
    assert_sane(size)


def test_the_read_path_benchmark_times_the_api_and_skips_missing_pages(tmp_path):
    database = f"nanomon_bench_read_smoke_{os.getpid()}"
    figures = run_script(
        "bench.read_path", "--monitors", "30", "--results", "3000", "--requests", "3",
        "--warmup", "1", "--database", database, "--drop",
        "--page", "page_results=/results",
        "--page", "page_missing=/no-such-page-for-the-smoke-test",
        out_dir=tmp_path,
    )  # fmt: skip

    assert figures["benchmark"] == "read_path"
    routes = figures["routes"]
    # page_results answers 200 only to the signed-in session (else a redirect to sign in).
    for name in ("api_monitors", "api_monitor_results", "api_results", "page_results", "metrics"):
        assert routes[name]["statuses"] == {"200": 3}, (name, routes[name])
        assert {"p50", "p95", "p99"} <= set(routes[name]["ms"])
    assert "skipped" in routes["page_missing"]
    assert_sane(routes)


def test_the_pages_benchmark_renders_every_page(tmp_path):
    database = f"nanomon_bench_pages_smoke_{os.getpid()}"
    figures = run_script(
        "bench.pages", "--monitors", "5", "--results", "100", "--requests", "2",
        "--warmup", "1", "--database", database, "--drop",
        "--target-ms", "1e9",  # its exit status judges a timing: not in a test
        out_dir=tmp_path, waits=False,
    )  # fmt: skip

    assert figures["benchmark"] == "pages"
    pages = {row["page"]: row for row in figures["pages"]}
    assert {"monitors", "dashboard", "monitor detail", "results"} <= set(pages)
    assert all(row["bytes"] > 0 and row["queries"] > 0 for row in pages.values())
    assert_sane(figures["pages"])
