"""bench.retention end to end at a tiny size (no timing judged): it seeds a day partition,
drops it by retention with writers running, prints its tables and writes its JSON."""

from __future__ import annotations

import os

import pytest

from tests.bench.test_bench_smoke import assert_sane, run_script

pytestmark = pytest.mark.e2e


def test_the_retention_benchmark_drops_a_seeded_day(tmp_path):
    database = f"nanomon_bench_retention_smoke_{os.getpid()}"
    figures = run_script(
        "bench.retention", "--monitors", "20", "--interval", "600", "--database", database,
        out_dir=tmp_path, waits=False, timeout=180,
    )  # fmt: skip

    result = figures["figures"]
    assert result["rows_dropped"] == 20 * 144
    assert result["bytes_per_monitor_per_day"] > 0
    assert result["inserts_during_drop"]["count"] >= 0
    assert result["insert_errors"] == []
    assert_sane(result)
