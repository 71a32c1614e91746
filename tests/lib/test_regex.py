"""User-supplied regular expressions (lib.regex): RE2 syntax, limits, linear-time
matching of catastrophic patterns, and matching under a deadline."""

from __future__ import annotations

import asyncio
import re
import threading
import time

import pytest

from lib import regex
from lib.regex import (
    MAX_NESTING_DEPTH,
    MAX_PATTERN_LENGTH,
    MatchTimeout,
    RegexError,
    compile_regex,
    run_bounded,
    still_running,
)
from monitors.rules import RuleEvalError, RuleSyntaxError, compile_rule

MEBIBYTE_OF_A = "a" * (1 << 20) + "!"

# Patterns that make a backtracking engine (Python's re, PCRE) take exponential or high
# polynomial time on a run of "a"s that ends in a mismatch, and whether each matches there.
CATASTROPHIC = [
    pytest.param(r"(a+)+$", False, id="(a+)+$"),
    pytest.param(r"(a|aa)+$", False, id="(a|aa)+$"),
    pytest.param(r"(a|a?)+$", True, id="(a|a?)+$"),  # matches the empty string at the end
    pytest.param(r"(.*a){20}", True, id="(.*a){20}"),
    pytest.param(r"(.*a){20}$", False, id="(.*a){20}$"),
    pytest.param(r"(a*)*b", False, id="(a*)*b"),
    pytest.param(r"(x+x+)+y", False, id="(x+x+)+y"),
    pytest.param(r"^(\w+\s?)+$", False, id=r"^(\w+\s?)+$"),
    pytest.param(r"((a{1,10}){1,10}){1,10}$", False, id="((a{1,10}){1,10}){1,10}$"),
    pytest.param(
        "(" * MAX_NESTING_DEPTH + "a" + ")" * MAX_NESTING_DEPTH + "$",
        False,
        id="nested groups at the depth limit",
    ),
]


def within(seconds: float, function, *args):
    """``function(*args)`` under ``run_bounded``: the product's own way to bound a match."""
    started = time.perf_counter()
    value = asyncio.run(run_bounded(function, *args, timeout=seconds, key=("test", id(args))))
    return value, time.perf_counter() - started


# --- Syntax: RE2's, which is Go's -------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        (r"(?i)ERROR", "an error", "error"),
        (r"v=(?P<version>[\d.]+)", "v=1.2.3", "1.2.3"),
        (r"v=(?<version>[\d.]+)", "v=1.2.3", "1.2.3"),
        (r"\pL+", "héllo wörld", "héllo"),
        (r"[[:alpha:]]+", "abc123", "abc"),
        (r"(?s)a.b", "a\nb", "a\nb"),
        (r"(?U)a+", "aaa", "a"),
        (r"(?m)^b$", "a\nb\nc", "b"),
        (r"c\z", "abc", "c"),
        (r"\Qa.b\E", "xa.by", "a.b"),
        (r"[]a]+", "]a]", "]a]"),
        (r"é(.)", "xéy", "y"),  # offsets are characters, not UTF-8 bytes
        (r"(a|ab)", "ab", "a"),  # leftmost-first, as Go (not leftmost-longest)
        (r"x(y)?z", "xz", ""),  # a group that took no part: "" as FindStringSubmatch
    ],
)
def test_go_syntax_compiles_and_finds_group_one(pattern: str, text: str, expected: str) -> None:
    assert compile_regex(pattern).first_group(text) == expected


@pytest.mark.parametrize(
    ("pattern", "text", "python_re", "go"),
    [
        (r"abc$", "abc\n", True, False),  # $ is the end of the text, not before a final \n
        (r"\d", "٣", True, False),  # \d, \w, \s are ASCII
        (r"\w", "é", True, False),
        (r"\bé", " é", True, False),  # \b is ASCII too
    ],
)
def test_classes_and_anchors_mean_what_they_mean_in_go(
    pattern: str, text: str, python_re: bool, go: bool
) -> None:
    assert (re.search(pattern, text) is not None) is python_re
    assert compile_regex(pattern).search(text) is go


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"(a)\1", r"invalid escape sequence: \1 (backreferences are not supported"),
        (r"a(?=b)", "invalid perl operator: (?= (lookahead is not supported"),
        (r"a(?!b)", "invalid perl operator: (?! (lookahead is not supported"),
        (r"(?<=a)b", "invalid perl operator: (?<= (lookbehind is not supported"),
        (r"(?<!a)b", "invalid perl operator: (?<! (lookbehind is not supported"),
        (r"(?>a+)b", "(atomic groups are not supported"),
        (r"a++", "(possessive repetitions are not supported"),
        (r"a\Z", r"invalid escape sequence: \Z (write \z for the end of the text"),
        (r"a\C", r"invalid escape sequence: \C"),
        (r"[\C]", r"invalid escape sequence: \C"),
        (r"(abc", "missing ): (abc"),
        (r"abc)", "unexpected ): abc)"),
        (r"[a", "missing ]: [a"),
        (r"a**", "bad repetition operator: **"),
        (r"a{1001}", "invalid repetition size: {1001}"),
        (r"(?:a{100}){100}", "invalid repetition size"),  # nested counts multiply, as in Go
        ("\\", "trailing \\"),
    ],
)
def test_what_re2_and_go_lack_is_refused_saying_why(pattern: str, reason: str) -> None:
    with pytest.raises(RegexError) as raised:
        compile_regex(pattern)
    assert reason in str(raised.value)
    assert isinstance(raised.value, ValueError)


# --- Limits -------------------------------------------------------------------------------------


def test_a_pattern_over_the_length_limit_is_refused() -> None:
    compile_regex("a" * MAX_PATTERN_LENGTH)
    with pytest.raises(RegexError, match=rf"^too long \({MAX_PATTERN_LENGTH + 1} characters, at"):
        compile_regex("a" * (MAX_PATTERN_LENGTH + 1))


@pytest.mark.parametrize("depth", [MAX_NESTING_DEPTH + 1, 500, 1000, 5000])
def test_groups_nested_deeper_than_the_limit_are_refused(depth: int) -> None:
    pattern = "(" * depth + "a" + ")" * depth
    with pytest.raises(RegexError, match=r"^nested too deeply \(more than 100 levels"):
        compile_regex(pattern[:MAX_PATTERN_LENGTH])


@pytest.mark.parametrize(
    "pattern",
    [
        "[(]" * 200,  # parentheses in a class
        r"\(" * 200,  # escaped
        r"\Q" + "(" * 200 + r"\E",  # quoted
        "[[:alpha:](]" * 150,  # a class holding [:alpha:] and a parenthesis
        "(a)" * 200,  # many groups, none nested
    ],
)
def test_only_real_nesting_counts(pattern: str) -> None:
    compile_regex(pattern)


def test_a_pattern_too_large_once_compiled_is_refused() -> None:
    compile_regex(r".{1000}")  # about 8,000 instructions: "." is any UTF-8 character
    with pytest.raises(RegexError, match=r"^too large once compiled \(\d+ instructions, at most"):
        compile_regex(r".{1000}.{1000}")
    with pytest.raises(RegexError, match=r"^too large once compiled"):
        compile_regex(r"\pL{1000}")  # over RE2's own memory budget as well


def test_compiled_patterns_are_cached() -> None:
    assert compile_regex(r"cached (\d+)") is compile_regex(r"cached (\d+)")
    assert compile_regex(r"cached (\d+)", capture=False) is not compile_regex(r"cached (\d+)")
    assert compile_regex(r"cached (\d+)", capture=False).groups == 0


# --- Linear time --------------------------------------------------------------------------------


@pytest.mark.parametrize(("pattern", "matches"), CATASTROPHIC)
def test_catastrophic_patterns_against_a_mebibyte_end_and_answer(
    pattern: str, matches: bool
) -> None:
    for capture in (False, True):
        compiled = compile_regex(pattern, capture=capture)
        found, seconds = within(60, compiled.search, MEBIBYTE_OF_A)
        print(f"{pattern[:40]!r} capture={capture}: {seconds:.3f}s")
        assert found is matches


def test_the_issues_pattern_on_the_issues_body_takes_no_time_to_speak_of() -> None:
    # Python's re needs about 2**40 steps here; RE2 a few dozen.
    found, seconds = within(5, compile_regex(r"(a+)+$").first_group, "a" * 40 + "!")
    print(f"(a+)+$ on 40 a's and '!': {seconds * 1000:.2f} ms")
    assert found is None


@pytest.mark.parametrize(("pattern", "matches"), CATASTROPHIC)
def test_rules_match_catastrophic_patterns_against_a_mebibyte(pattern: str, matches: bool) -> None:
    equal = compile_rule(f"body =~ '{pattern}'")
    differ = compile_rule(f"body !~ '{pattern}'")
    variable = compile_rule("body =~ pattern")
    for rule, variables, expected in (
        (equal, {"body": MEBIBYTE_OF_A}, matches),
        (differ, {"body": MEBIBYTE_OF_A}, not matches),
        (variable, {"body": MEBIBYTE_OF_A, "pattern": pattern}, matches),
    ):
        verdict, seconds = within(60, rule.evaluate, variables)
        print(f"{rule.text[:50]!r}: {seconds:.3f}s")
        assert verdict is expected


def test_rule_patterns_are_refused_with_the_rule_languages_errors() -> None:
    deep = "(" * 500 + "a" + ")" * 500
    with pytest.raises(RuleSyntaxError, match=r"at position 8: nested too deeply"):
        compile_rule(f"body =~ '{deep}'")
    with pytest.raises(RuleSyntaxError, match=r"lookahead is not supported"):
        compile_rule("body =~ 'a(?=b)'")
    with pytest.raises(RuleEvalError, match=r"nested too deeply"):
        compile_rule("body =~ pattern").evaluate({"body": "a", "pattern": deep})


def test_a_lone_surrogate_in_the_text_is_not_an_error() -> None:
    assert compile_regex("a").search("\ud800a")
    assert compile_regex("(b)").first_group("\ud800b") == "b"


# --- Matching under a deadline ------------------------------------------------------------------


def test_run_bounded_returns_the_result_or_raises_the_error() -> None:
    assert asyncio.run(run_bounded(len, "abc", timeout=5, key="len")) == 3
    with pytest.raises(ZeroDivisionError):
        asyncio.run(run_bounded(lambda: 1 / 0, timeout=5, key="divide"))
    assert not still_running("len")
    assert not still_running("divide")


def test_an_overrunning_call_ends_the_wait_and_blocks_its_key_until_it_ends() -> None:
    release = threading.Event()
    ran: list[str] = []

    def slow(name: str) -> str:
        ran.append(name)
        release.wait(30)
        return name

    async def scenario() -> None:
        with pytest.raises(MatchTimeout) as first:
            await run_bounded(slow, "first", timeout=0.2, key="slow")
        assert not first.value.still_running
        assert still_running("slow")
        # While it runs on, the same key fails at once and starts nothing; others run.
        with pytest.raises(MatchTimeout) as second:
            await run_bounded(slow, "second", timeout=5, key="slow")
        assert second.value.still_running
        assert await run_bounded(len, "other", timeout=5, key="other") == 5
        release.set()
        for _ in range(300):
            if not still_running("slow"):
                break
            await asyncio.sleep(0.01)
        assert not still_running("slow")
        assert await run_bounded(slow, "third", timeout=5, key="slow") == "third"

    try:
        asyncio.run(scenario())
    finally:
        release.set()
    assert ran == ["first", "third"]


def test_a_cancelled_caller_leaves_the_call_running_and_its_key_blocked() -> None:
    release = threading.Event()

    async def scenario() -> None:
        task = asyncio.create_task(run_bounded(release.wait, 30, timeout=30, key="cancelled"))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert still_running("cancelled")

    try:
        asyncio.run(scenario())
    finally:
        release.set()
    deadline = time.monotonic() + 5
    while still_running("cancelled") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not still_running("cancelled")


def test_the_matching_thread_does_not_hold_the_event_loop() -> None:
    """A slow match (here a stand-in that sleeps) leaves the loop free for other work."""
    release = threading.Event()

    async def scenario() -> int:
        ticks = 0
        match = asyncio.create_task(run_bounded(release.wait, 5, timeout=5, key="free loop"))
        while ticks < 20:
            await asyncio.sleep(0.01)
            ticks += 1
        release.set()
        await match
        return ticks

    assert asyncio.run(scenario()) == 20


def test_the_compiled_objects_are_shared_safely_across_threads() -> None:
    compiled = compile_regex(r"(\d+)!")
    results: list[str | None] = []

    def work() -> None:
        for _ in range(200):
            results.append(compiled.first_group("x" * 1000 + "123!"))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["123"] * 800


def test_the_engine_comparison_benchmark_runs(tmp_path, capsys) -> None:
    from bench import regex_engines

    assert regex_engines.main(["--size", "4096", "--limit", "0.5", "--out-dir", str(tmp_path)]) == 0
    assert "(a+)+$" in capsys.readouterr().out
    assert len(list(tmp_path.glob("regex_engines-*.json"))) == 1


def test_module_limits_are_what_the_readme_says() -> None:
    assert (regex.MAX_PATTERN_LENGTH, regex.MAX_NESTING_DEPTH) == (2048, 100)
    assert (regex.MAX_PROGRAM_SIZE, regex.MAX_MEMORY) == (10_000, 8 << 20)
