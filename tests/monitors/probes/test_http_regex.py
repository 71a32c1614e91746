"""Hostile regular expressions in http checks, against a real local server sending a MiB:
``bodyRegex`` and the rules' ``=~`` end within the check's deadline and give a result, and a
slow match costs only its own check."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator

import pytest
from aiohttp import web

from lib.regex import still_running
from monitors.engine import DEADLINE_GRACE_SECONDS, CheckRequest, CheckStatus, run_check
from monitors.engine import run_checks as engine_run_checks
from monitors.probes.http import MAX_BODY_BYTES
from tests.support.http_servers import RunningServer, serve_app

MEBIBYTE = 1 << 20
# The whole body is read (1 MiB, the cap): "a"s then the "!" that makes the patterns fail.
A_RUN_BYTES = MAX_BODY_BYTES

# What RE2 cannot make fast: a DFA that explodes (2**1000 states) on random a/b text falls
# back to the NFA with ~1000 live states per byte, so ~10 s per MiB. Linear, yet slow enough
# to overrun a short timeout: it stands for "a match that takes too long".
DFA_HOSTILE = r"[ab]*a[ab]{1000}c"

SLOW_SLACK_SECONDS = 2.0  # asyncio.run, thread start and a loaded machine, beyond the grace


def hostile_app(a_run_bytes: int = A_RUN_BYTES, a_or_b_bytes: int = MEBIBYTE // 4):
    """/a: a run of ``a`` ending in ``!``; /ab: seeded random a/b text; /ok: a short body."""
    a_run = ("a" * (a_run_bytes - 1) + "!").encode()
    coin = random.Random(19)
    a_or_b = "".join(coin.choice("ab") for _ in range(a_or_b_bytes)).encode()

    async def run_of_a(request: web.Request) -> web.Response:
        return web.Response(body=a_run, content_type="text/plain")

    async def random_a_b(request: web.Request) -> web.Response:
        return web.Response(body=a_or_b, content_type="text/plain")

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="queue depth: 3")

    app = web.Application()
    app.router.add_get("/a", run_of_a)
    app.router.add_get("/ab", random_a_b)
    app.router.add_get("/ok", ok)
    return app


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with serve_app(hostile_app()) as running:
        yield running


def check(request: CheckRequest):
    started = time.perf_counter()
    result = asyncio.run(run_check(request))
    return result, time.perf_counter() - started


def wait_until_finished(key: tuple[str, str], seconds: float = 300) -> float:
    """Wait for an overrunning match to end on its own (it must: RE2 is linear); how long."""
    started = time.monotonic()
    while still_running(key):
        assert time.monotonic() - started < seconds, f"{key} still running after {seconds}s"
        time.sleep(0.05)
    return time.monotonic() - started


# Catastrophic for a backtracking engine on "a" * N + "!"; the regexMatch each gives.
CATASTROPHIC = [
    pytest.param(r"(a+)+$", None, id="(a+)+$"),
    pytest.param(r"(a|aa)+$", None, id="(a|aa)+$"),
    pytest.param(r"(a|a?)+$", "", id="(a|a?)+$"),
    pytest.param(r"(.*a){20}", "a", id="(.*a){20}"),
    pytest.param(r"(a*)*b", None, id="(a*)*b"),
    pytest.param(r"^(\w+\s?)+$", None, id=r"^(\w+\s?)+$"),
    pytest.param(r"((a{1,10}){1,10}){1,10}$", None, id="((a{1,10}){1,10}){1,10}$"),
    pytest.param("(" * 100 + "a" + ")" * 100 + "$", None, id="100 nested groups"),
]


@pytest.mark.parametrize(("pattern", "regex_match"), CATASTROPHIC)
def test_a_catastrophic_body_regex_on_a_mebibyte_ends_within_the_timeout(
    server: RunningServer, pattern: str, regex_match: str | None
) -> None:
    timeout = 10.0
    result, seconds = check(
        CheckRequest(
            kind="http",
            target=server.url("/a"),
            properties={"bodyRegex": pattern, "timeout": "10s"},
            rule=f"status == 200 && bodyLen == {A_RUN_BYTES}",
        )
    )
    print(f"bodyRegex {pattern[:30]!r} on a MiB ending in '!': {seconds:.3f}s")
    assert result.status is CheckStatus.OK, result.message
    assert result.outputs is not None
    assert result.outputs.get("regexMatch") == regex_match
    assert seconds < timeout + DEADLINE_GRACE_SECONDS + SLOW_SLACK_SECONDS


@pytest.mark.parametrize(("pattern", "regex_match"), CATASTROPHIC)
def test_a_catastrophic_rule_on_a_mebibyte_ends_within_the_timeout(
    server: RunningServer, pattern: str, regex_match: str | None
) -> None:
    matches = regex_match is not None
    result, seconds = check(
        CheckRequest(
            kind="http",
            target=server.url("/a"),
            properties={"timeout": "10s"},
            rule=f"body =~ '{pattern}' == {str(matches).lower()} && body !~ '{pattern}' != "
            f"{str(matches).lower()}",
        )
    )
    print(f"rule =~ {pattern[:30]!r} on a MiB ending in '!': {seconds:.3f}s")
    assert result.status is CheckStatus.OK, result.message
    assert seconds < 10.0 + DEADLINE_GRACE_SECONDS + SLOW_SLACK_SECONDS


def test_groups_nested_1000_deep_fail_the_check_at_once_naming_body_regex(
    server: RunningServer,
) -> None:
    deep = "(" * 1000 + "a" + ")" * 1000
    result, seconds = check(
        CheckRequest(kind="http", target=server.url("/a"), properties={"bodyRegex": deep})
    )
    assert result.status is CheckStatus.FAILED
    assert result.message == (
        "property 'bodyRegex': invalid regular expression: nested too deeply "
        "(more than 100 levels of parentheses)"
    )
    assert seconds < 5.0


def test_a_body_regex_too_slow_for_the_timeout_fails_only_its_check(server: RunningServer) -> None:
    key = ("bodyRegex", DFA_HOSTILE)
    slow = CheckRequest(
        kind="http",
        target=server.url("/ab"),
        properties={"bodyRegex": DFA_HOSTILE, "timeout": "500ms"},
    )
    normal = [
        CheckRequest(
            kind="http",
            target=server.url("/ok"),
            properties={"bodyRegex": r"depth: (\d+)", "timeout": "2s"},
            rule="body =~ 'queue' && regexMatch == 3",
        )
        for _ in range(20)
    ]
    started = time.perf_counter()
    results = asyncio.run(engine_run_checks([slow, *normal], concurrency=21))
    seconds = time.perf_counter() - started

    assert results[0].status is CheckStatus.FAILED
    assert results[0].message == "bodyRegex did not finish within the timeout (500ms)"
    assert [result.status for result in results[1:]] == [CheckStatus.OK] * 20
    assert seconds < 2.0 + DEADLINE_GRACE_SECONDS + SLOW_SLACK_SECONDS
    assert still_running(key)

    # While that search runs on, the same pattern fails at once instead of piling up threads.
    again, _ = check(slow)
    assert again.status is CheckStatus.FAILED
    assert again.message == (
        "bodyRegex: an earlier search with this pattern is still running past its timeout"
    )
    print(f"slow bodyRegex: batch {seconds:.2f}s, then {wait_until_finished(key):.1f}s to end")
    assert not still_running(key)


def test_a_rule_too_slow_for_the_deadline_fails_only_its_check(server: RunningServer) -> None:
    rule = f"body !~ '{DFA_HOSTILE}'"
    slow = CheckRequest(
        kind="http", target=server.url("/ab"), properties={"timeout": "500ms"}, rule=rule
    )
    normal = [
        CheckRequest(kind="http", target=server.url("/ok"), rule="body =~ 'depth: [0-9]+'")
        for _ in range(20)
    ]
    started = time.perf_counter()
    results = asyncio.run(engine_run_checks([slow, *normal], concurrency=21))
    seconds = time.perf_counter() - started

    assert results[0].status is CheckStatus.FAILED
    assert results[0].message == (
        "rule eval error: matching a regular expression did not finish within the timeout (500ms)"
    )
    assert [result.status for result in results[1:]] == [CheckStatus.OK] * 20
    assert seconds < 5.0 + DEADLINE_GRACE_SECONDS + SLOW_SLACK_SECONDS
    again, _ = check(slow)
    assert again.message == (
        "rule eval error: an earlier evaluation of this rule is still matching past its deadline"
    )
    print(f"slow rule: batch {seconds:.2f}s, then {wait_until_finished(('rule', rule)):.1f}s")
