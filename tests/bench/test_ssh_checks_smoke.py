"""bench.ssh_checks at its tiniest size (one check per case), so it never rots; no timing
assertions."""

from __future__ import annotations

import json

import pytest

from bench import ssh_checks
from tests.support import ssh_server


def test_the_ssh_benchmark_measures_every_case(tmp_path):
    if reason := ssh_server.skip_reason():
        pytest.skip(reason)

    assert ssh_checks.main(["--checks", "1", "--out-dir", str(tmp_path)]) == 0

    [written] = tmp_path.glob("ssh_checks-*.json")
    figures = json.loads(written.read_text())
    assert list(figures["cases"]) == ["command", "command-key", "process", "log"]
    for case in figures["cases"].values():
        assert case["cpu_seconds_per_check"] > 0
        assert case["sshd_cpu_seconds_per_check"] >= 0
