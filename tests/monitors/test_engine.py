"""The engine: rule outcomes, deadlines, isolation of failures, and the one-off command."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.core.management import call_command

from monitors.engine import (
    DEADLINE_GRACE_SECONDS,
    CheckRequest,
    CheckStatus,
    apply_rule,
    deadline_for,
    iter_completed_checks,
    run_check,
    run_checks_sync,
)
from monitors.probes import REGISTRY
from monitors.probes.base import ProbeResult, ProbeType
from tests.support.http_servers import build_test_app, refused_port, serve_app


@pytest.mark.parametrize(
    ("rule", "outputs", "status", "message"),
    [
        ("", {"status": 500}, CheckStatus.OK, ""),
        ("status == 200", {"status": 200}, CheckStatus.OK, ""),
        ("status == 200", {"status": 404}, CheckStatus.ERROR, "Rule violated: status == 200"),
        ("status ==", {"status": 200}, CheckStatus.FAILED, "rule expression error: "),
        ("missing > 1", {"status": 200}, CheckStatus.FAILED, "rule eval error: "),
        ("status + 1", {"status": 200}, CheckStatus.FAILED, "rule didn't return a bool"),
        ("body =~ 'some words'", {"body": "has some words"}, CheckStatus.OK, ""),
    ],
)
def test_rules_set_the_status_and_message_of_the_contract(rule, outputs, status, message):
    got_status, got_message = apply_rule(rule, outputs)

    assert got_status == status
    assert got_message.startswith(message)
    if not message:
        assert got_message == ""


def test_an_unknown_type_fails_the_check_instead_of_raising():
    result = asyncio.run(run_check(CheckRequest(kind="carrier-pigeon", target="x")))

    assert (result.status, result.outputs) == (CheckStatus.FAILED, None)
    assert "unknown monitor type" in result.message


def test_bad_properties_fail_the_check_with_a_message_naming_the_property():
    result = asyncio.run(
        run_check(CheckRequest(kind="http", target="http://x/", properties={"timeout": "5"}))
    )

    assert result.status == CheckStatus.FAILED
    assert result.message.startswith("property 'timeout'")


def test_a_failed_run_has_value_zero_and_no_outputs():
    result = asyncio.run(
        run_check(CheckRequest(kind="http", target=f"http://127.0.0.1:{refused_port()}/"))
    )

    assert (result.status, result.value, result.outputs, result.message) == (
        CheckStatus.FAILED,
        0.0,
        None,
        "connection refused",
    )


@pytest.fixture
def misbehaving_probe(monkeypatch):
    """A probe type that ignores its deadline, or crashes, registered for one test."""

    async def probe(target, properties):
        if target == "crash":
            raise RuntimeError("bug in probe")
        await asyncio.sleep(30)
        return ProbeResult(value=1.0)

    http = REGISTRY["http"]
    fake = ProbeType(
        kind="slow", label="Slow", short_label="Slow", target_help="",
        properties=http.properties[1:2], outputs=(), check_target=lambda target: None,
        probe=probe, template=http.template,
    )  # fmt: skip
    monkeypatch.setitem(REGISTRY, "slow", fake)
    return fake


def test_the_engine_cancels_a_probe_that_outlives_its_deadline(misbehaving_probe):
    started = time.monotonic()
    result = asyncio.run(
        run_check(CheckRequest(kind="slow", target="x", properties={"timeout": "200ms"}))
    )

    assert result.status == CheckStatus.FAILED
    assert result.message == "timed out after 200ms"
    # Functional guarantee (not a benchmark): cancelled at the deadline plus the grace.
    assert time.monotonic() - started < 0.2 + DEADLINE_GRACE_SECONDS + 1


def test_one_crashing_probe_costs_one_result_not_the_batch(misbehaving_probe):
    with serve_app(build_test_app()) as server:
        results = run_checks_sync(
            [
                CheckRequest(kind="slow", target="crash"),
                CheckRequest(kind="http", target=server.url("/ok")),
            ],
            concurrency=10,
        )

    assert [r.status for r in results] == [CheckStatus.FAILED, CheckStatus.OK]
    assert results[0].message == "bug in probe"


def test_the_deadline_of_a_request_is_its_timeout_plus_the_grace():
    request = CheckRequest(kind="http", target="http://x/", properties={"timeout": "2s"})

    assert deadline_for(request) == 2 + DEADLINE_GRACE_SECONDS
    assert deadline_for(CheckRequest(kind="nope", target="x")) == 0


def test_many_checks_run_concurrently_and_keep_their_order():
    with serve_app(build_test_app()) as server:
        requests = [
            CheckRequest(kind="http", target=server.url(f"/status/{200 + n}")) for n in range(30)
        ]
        started = time.monotonic()
        results = run_checks_sync(
            [
                *requests,
                CheckRequest(kind="http", target=server.url("/sleep?seconds=1")),
                CheckRequest(kind="http", target=server.url("/sleep?seconds=1")),
            ],
            concurrency=50,
        )
        elapsed = time.monotonic() - started

    assert [r.outputs["status"] for r in results[:30]] == [200 + n for n in range(30)]
    # The two sleeps overlapped: the whole batch took less than the two of them in a row.
    assert elapsed < results[-1].duration_seconds + results[-2].duration_seconds


# --- Results as checks end (iter_completed_checks) ------------------------------------------


def engine_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "nanomon-engine"]


def test_each_check_comes_out_when_it_ends_not_when_the_slowest_ends():
    with serve_app(build_test_app()) as server:
        requests = [
            CheckRequest("http", server.url("/sleep?seconds=30"), {"timeout": "2s"}),
            CheckRequest("http", server.url("/ok")),
            CheckRequest("http", server.url("/status/500")),
        ]
        started = time.monotonic()
        arrivals = [
            (time.monotonic() - started, dict(group))
            for group in iter_completed_checks(requests, concurrency=10, flush_seconds=0.2)
        ]

    (first_at, first), (last_at, last) = arrivals
    assert sorted(first) == [1, 2]
    assert first_at < 1.5  # Functional bound, far below the slow check's 2 s
    assert first[1].outputs["status"] == 200
    assert first[2].outputs["status"] == 500
    assert list(last) == [0]
    assert last[0].message == "timed out after 2s"
    assert last_at >= 2
    assert engine_threads() == []


def test_checks_are_grouped_up_to_the_group_size():
    with serve_app(build_test_app()) as server:
        requests = [CheckRequest("http", server.url("/ok")) for _ in range(5)]
        groups = list(iter_completed_checks(requests, 5, flush_seconds=30, group_size=2))

    assert [len(group) for group in groups] == [2, 2, 1]
    assert sorted(index for group in groups for index, _ in group) == [0, 1, 2, 3, 4]


def test_checks_held_back_to_their_slot_come_out_on_their_slot():
    with serve_app(build_test_app()) as server:
        now = datetime.now(UTC)
        later = now + timedelta(seconds=1.5)
        requests = [CheckRequest("http", server.url("/ok")) for _ in range(2)]
        groups = list(iter_completed_checks(requests, 5, [now, later], flush_seconds=0.2))

    assert [[index for index, _ in group] for group in groups] == [[0], [1]]
    assert groups[1][0][1].started_at >= later


def test_a_caller_that_stops_early_cancels_the_checks_still_running():
    with serve_app(build_test_app()) as server:
        requests = [
            CheckRequest("http", server.url("/ok")),
            CheckRequest("http", server.url("/sleep?seconds=30"), {"timeout": "20s"}),
        ]
        started = time.monotonic()
        checks = iter_completed_checks(requests, concurrency=10, flush_seconds=0.1)
        [(index, _)] = next(checks)
        checks.close()  # what contextlib.closing does when recording that group fails
        elapsed = time.monotonic() - started

    assert index == 0

    assert elapsed < 5  # the 20 s check was cancelled, not waited for
    assert engine_threads() == []


@pytest.fixture
def stuck_lookup(monkeypatch):
    """A probe type whose work sits in an executor thread for 3 s, the way a stuck
    ``getaddrinfo`` does, while its own deadline is 200 ms."""

    async def probe(target, properties):
        await asyncio.get_running_loop().run_in_executor(None, time.sleep, 3)
        return ProbeResult(value=1.0)

    http = REGISTRY["http"]
    fake = ProbeType(
        kind="stuck", label="Stuck", short_label="Stuck", target_help="",
        properties=http.properties[1:2], outputs=(), check_target=lambda target: None,
        probe=probe, template=http.template,
    )  # fmt: skip
    monkeypatch.setitem(REGISTRY, "stuck", fake)


def test_a_lookup_stuck_in_a_thread_never_holds_the_caller(stuck_lookup):
    started = time.monotonic()
    [[(_, result)]] = iter_completed_checks(
        [CheckRequest("stuck", "x", {"timeout": "200ms"})], concurrency=1
    )
    elapsed = time.monotonic() - started

    assert result.message == "timed out after 200ms"
    # asyncio.run would have joined the executor's sleeping thread (3 s).
    assert elapsed < 2


def run_probe_command(capsys, *arguments):
    with pytest.raises(SystemExit) as exit_info:
        call_command("probe", *arguments)
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def test_the_probe_command_prints_an_ok_result_and_exits_zero(capsys):
    with serve_app(build_test_app()) as server:
        code, out, _ = run_probe_command(capsys, server.url("/ok"), "--json")

    printed = json.loads(out)
    assert code == 0
    assert (printed["type"], printed["status"], printed["outputs"]["status"]) == ("http", 0, 200)
    assert "body" not in printed["outputs"]


def test_the_probe_command_exits_one_for_a_violated_rule(capsys):
    with serve_app(build_test_app()) as server:
        code, out, _ = run_probe_command(
            capsys, server.url("/status/404"), "--rule", "status == 200"
        )

    assert code == 1
    assert "Rule violated: status == 200" in out


def test_a_detected_http_probe_is_up_on_2xx_or_3xx_only_as_gosrvmons(capsys):
    with serve_app(build_test_app()) as server:
        missing, out, _ = run_probe_command(capsys, server.url("/status/404"))
        typed, _, _ = run_probe_command(capsys, server.url("/status/404"), "--type", "http")

    assert missing == 1
    assert "Rule violated: status >= 200 && status < 400" in out
    assert typed == 0  # a type given keeps NanoMon's meaning: any answer is OK


def test_the_probe_command_detects_tcp_and_exits_two_when_it_fails(capsys):
    code, out, _ = run_probe_command(capsys, f"127.0.0.1:{refused_port()}")

    assert code == 2
    assert out.startswith("FAILED tcp")
    assert "connection refused" in out


def test_the_probe_command_rejects_a_bad_property_naming_it(capsys):
    code, _, err = run_probe_command(capsys, "127.0.0.1", "--type", "ping", "--prop", "count=abc")

    assert code == 64  # EX_USAGE: never 2, which is Failed
    assert "property 'count'" in err


def test_the_probe_command_refuses_a_target_it_cannot_probe(capsys):
    code, _, err = run_probe_command(capsys, "example.net", "--type", "tcp")

    assert code == 64
    assert "invalid monitor target: missing port" in err


def run_manage_probe(*arguments: str) -> subprocess.CompletedProcess:
    """``manage.py probe`` as a shell runs it: argparse's errors happen only there."""
    return subprocess.run(
        [sys.executable, "manage.py", "probe", *arguments],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((), "the following arguments are required: target"),
        (("127.0.0.1", "--type", "smtp"), "argument --type: invalid choice: 'smtp'"),
        (("127.0.0.1", "--bogus"), "unrecognized arguments: --bogus"),
        (("127.0.0.1", "--type", "ping", "--prop", "count=abc"), "probe: property 'count'"),
        (("127.0.0.1", "--prop", "count"), "probe: --prop takes NAME=VALUE"),
        (("ftp://files",), "probe: unsupported scheme 'ftp'"),
    ],
)
def test_usage_errors_exit_64_from_the_command_line_never_2(arguments, message):
    result = run_manage_probe(*arguments)

    assert result.returncode == 64, result.stderr
    assert message in result.stderr
    assert result.stdout == ""


def test_a_failed_check_exits_2_from_the_command_line():
    result = run_manage_probe(f"127.0.0.1:{refused_port()}")

    assert result.returncode == 2, result.stderr
    assert result.stdout.startswith("FAILED tcp")


def test_a_target_of_the_wrong_shape_fails_the_run_with_a_clear_message():
    result = asyncio.run(run_check(CheckRequest(kind="tcp", target="example.net")))

    assert result.status == CheckStatus.FAILED
    assert result.message.startswith("invalid target: missing port")
