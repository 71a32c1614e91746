"""bench/traceroute.py runs end to end at its tiniest size (figures are not judged here)."""

from __future__ import annotations

import shutil

import pytest

from tests.bench.test_bench_smoke import assert_sane, run_script
from tests.support import netns

pytestmark = [pytest.mark.e2e, pytest.mark.netns]


def test_the_traceroute_benchmark_compares_both_protocols_with_the_binary(tmp_path):
    if reason := netns.skip_reason():
        pytest.skip(reason)
    if shutil.which("traceroute") is None:
        pytest.skip("the traceroute binary is missing (bin/nanomon test installs it as root)")

    figures = run_script("bench.traceroute", "--traces", "2", out_dir=tmp_path)

    assert figures["benchmark"] == "traceroute"
    assert [(row["protocol"], row["kind"]) for row in figures["rows"]] == [
        ("icmp", "nanomon, one at a time"),
        ("icmp", "nanomon, 2 at once"),
        ("icmp", "traceroute -n -I"),
        ("udp", "nanomon, one at a time"),
        ("udp", "nanomon, 2 at once"),
        ("udp", "traceroute -n"),
    ]
    for row in figures["rows"]:
        assert {"cpu_ms_per_trace", "children_cpu_ms_per_trace", "wall_ms_per_trace"} <= set(row)
    assert_sane(figures)
