"""The probe engine: run checks concurrently on one asyncio loop and apply each monitor's rule.

Plain data in (CheckRequest), plain data out (CheckResult); no ORM here, so the scheduler,
the one-off ``probe`` command and the API's "test" action all share exactly this code.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from lib.durations import format_seconds
from lib.regex import MatchTimeout, run_bounded
from monitors.probes import get_probe_type
from monitors.probes.base import OutputValue, ProbeFailure, PropertyError, describe_error
from monitors.rules import RuleError, RuleEvalError, compile_rule

# The engine's own safety net beyond a probe's declared timeout: a probe that ignores its
# deadline is cancelled this many seconds later and reported as timed out.
DEADLINE_GRACE_SECONDS = 0.5


class CheckStatus(enum.IntEnum):
    """Outcome of one run; the same numbers as ``lib.status.Status`` (a test keeps them in
    step: tests/lib/test_status.py)."""

    OK = 0
    ERROR = 1
    FAILED = 2


@dataclass(frozen=True)
class CheckRequest:
    """One check to run: a monitor's definition, or a one-off target."""

    kind: str
    target: str
    properties: Mapping[str, str] = field(default_factory=dict)
    rule: str = ""
    # What the monitor's last run remembered, for a remembering probe type (None: nothing).
    memory: Mapping[str, object] | None = None
    interval: str = ""  # the monitor's interval as written (a passive type's period)


@dataclass(frozen=True)
class CheckResult:
    """What one run produced. ``outputs`` is None for Failed runs; ``stored_outputs`` drops
    the transient ones (e.g. the HTTP body) that must never be persisted."""

    status: CheckStatus
    value: float
    message: str
    outputs: dict[str, OutputValue] | None
    started_at: datetime
    duration_seconds: float
    stored_outputs: dict[str, OutputValue] | None = None
    memory: dict[str, object] | None = None  # to remember for the next run; None: unchanged


def apply_rule(rule_text: str, outputs: Mapping[str, OutputValue]) -> tuple[CheckStatus, str]:
    """Evaluate a monitor's rule over a successful run's outputs (contract §3 outcomes)."""
    if not rule_text.strip():
        return CheckStatus.OK, ""
    try:
        rule = compile_rule(rule_text)
    except RuleError as error:
        return CheckStatus.FAILED, f"rule expression error: {error}"
    try:
        verdict = rule.evaluate(outputs)
    except RuleEvalError as error:
        return CheckStatus.FAILED, f"rule eval error: {error}"
    if not isinstance(verdict, bool):
        return CheckStatus.FAILED, "rule didn't return a bool"
    if not verdict:
        return CheckStatus.ERROR, f"Rule violated: {rule_text}"
    return CheckStatus.OK, ""


async def apply_rule_within(
    rule_text: str, outputs: Mapping[str, OutputValue], seconds: float, deadline: float
) -> tuple[CheckStatus, str]:
    """``apply_rule``, waited for at most ``seconds`` when the rule matches a regular expression.

    Such a rule (``=~`` / ``!~``) is evaluated on a thread of its own: RE2 matches in linear
    time, but a hostile pattern over a MiB of body may still need seconds, and that must cost
    its own check (Failed, naming the check's ``deadline``), never the loop's other checks.
    """
    if "=~" not in rule_text and "!~" not in rule_text:
        return apply_rule(rule_text, outputs)
    try:
        return await run_bounded(
            apply_rule, rule_text, outputs, timeout=seconds, key=("rule", rule_text)
        )
    except MatchTimeout as error:
        if error.still_running:
            return CheckStatus.FAILED, (
                "rule eval error: an earlier evaluation of this rule is still matching past "
                "its deadline"
            )
        return CheckStatus.FAILED, (
            "rule eval error: matching a regular expression did not finish within the "
            f"timeout ({format_seconds(deadline)})"
        )


def failed_result(message: str, started_at: datetime, clock: float) -> CheckResult:
    """A Failed result of a check that started at ``started_at`` (``clock``: perf_counter)."""
    return CheckResult(
        status=CheckStatus.FAILED,
        value=0.0,
        message=message,
        outputs=None,
        started_at=started_at,
        duration_seconds=time.perf_counter() - clock,
    )


async def run_check(request: CheckRequest) -> CheckResult:
    """Run one check under one total deadline, then its rule. Never raises for probe errors."""
    started_at = datetime.now(UTC)
    clock = time.perf_counter()

    def failed(message: str) -> CheckResult:
        return failed_result(message, started_at, clock)

    try:
        probe_type = get_probe_type(request.kind)
    except KeyError:
        return failed(f"unknown monitor type {request.kind!r}")
    try:
        probe_type.check_target(request.target)
        parsed = probe_type.parse_properties(request.properties)
    except PropertyError as error:
        return failed(str(error))
    except ValueError as error:
        return failed(f"invalid target: {error}")
    if probe_type.passive is not None:  # this run is a missed deadline
        return failed(probe_type.passive.missed_message(request.interval, parsed))
    deadline = probe_type.deadline(parsed)
    if probe_type.remembers:
        probing = probe_type.probe(request.target, parsed, dict(request.memory or {}))
    else:
        probing = probe_type.probe(request.target, parsed)
    try:
        measured = await asyncio.wait_for(probing, deadline + DEADLINE_GRACE_SECONDS)
    except ProbeFailure as error:
        return failed(str(error))
    except TimeoutError:
        return failed(f"timed out after {format_seconds(deadline)}")
    except Exception as error:  # a probe bug must cost one result, never the batch
        return failed(describe_error(error))
    # The rule gets what is left of the deadline plus the grace (so at least the grace).
    remaining = max(deadline - (time.perf_counter() - clock), 0.0) + DEADLINE_GRACE_SECONDS
    status, message = await apply_rule_within(request.rule, measured.outputs, remaining, deadline)
    stored = {
        name: value
        for name, value in measured.outputs.items()
        if name not in probe_type.transient_outputs
    }
    return CheckResult(
        status=status,
        value=measured.value,
        message=message,
        outputs=dict(measured.outputs),
        stored_outputs=stored,
        started_at=started_at,
        duration_seconds=time.perf_counter() - clock,
        memory=measured.memory,
    )


def deadline_for(request: CheckRequest) -> float:
    """Seconds a check may take at most (its probe's deadline plus the engine's grace).

    A request that cannot run (unknown type, bad properties) fails at once: zero.
    """
    try:
        probe_type = get_probe_type(request.kind)
        return probe_type.deadline(probe_type.parse_properties(request.properties)) + (
            DEADLINE_GRACE_SECONDS
        )
    except (KeyError, ValueError):
        return 0.0


async def run_checks_each(
    requests: Sequence[CheckRequest],
    concurrency: int,
    on_done: Callable[[int, CheckResult], None],
    not_before: Sequence[datetime | None] | None = None,
) -> None:
    """Run many checks on this loop with at most ``concurrency`` in flight, and call
    ``on_done(index, result)`` for each as soon as it ends (so in completion order).

    ``not_before`` (one aware datetime or None per request) holds a check back until that
    time: the dispatcher claims monitors slightly ahead of their slot, and each one starts on
    its slot, not on the dispatcher's tick. A waiting check takes no place in flight.
    If ``on_done`` raises, the checks still running are cancelled and the error propagates.
    """
    gate = asyncio.Semaphore(max(1, concurrency))
    starts = list(not_before) if not_before is not None else [None] * len(requests)

    async def gated(index: int, request: CheckRequest, start: datetime | None) -> None:
        if start is not None:
            while (wait := (start - datetime.now(UTC)).total_seconds()) > 0:
                await asyncio.sleep(wait)
        async with gate:
            result = await run_check(request)
        on_done(index, result)

    async with asyncio.TaskGroup() as group:
        for index, (request, start) in enumerate(zip(requests, starts, strict=True)):
            group.create_task(gated(index, request, start))


async def run_checks(
    requests: Sequence[CheckRequest],
    concurrency: int,
    not_before: Sequence[datetime | None] | None = None,
) -> list[CheckResult]:
    """``run_checks_each``, collected: every result, in the order of ``requests``."""
    results: list[CheckResult | None] = [None] * len(requests)
    await run_checks_each(requests, concurrency, results.__setitem__, not_before)
    return results  # type: ignore[return-value]  # every index was set


def run_checks_sync(
    requests: Iterable[CheckRequest],
    concurrency: int,
    not_before: Sequence[datetime | None] | None = None,
) -> list[CheckResult]:
    """Blocking wrapper for callers outside an event loop (Celery tasks, commands, views)."""
    return asyncio.run(run_checks(list(requests), concurrency, not_before))


@dataclass(frozen=True)
class _Ended:
    """The engine thread's last word: the error that stopped it, or None."""

    error: BaseException | None


def iter_completed_checks(
    requests: Iterable[CheckRequest],
    concurrency: int,
    not_before: Sequence[datetime | None] | None = None,
    *,
    flush_seconds: float = 0.5,
    group_size: int = 500,
) -> Iterator[list[tuple[int, CheckResult]]]:
    """Run checks like ``run_checks`` and yield them in small groups as they end, so a
    caller records each check soon after it ends whatever the batch's slowest check does.

    A group is ``[(index in requests, result), ...]``; it is yielded once ``group_size``
    checks are in it, or ``flush_seconds`` after its first check ended, whichever comes
    first. Every request appears in exactly one group.

    The checks run on their own event loop in a thread of their own while the caller works
    on a yielded group (e.g. writes it to the database), so recording never holds probes up.
    That loop is closed without waiting for its executor: a host name lookup stuck in a
    ``getaddrinfo`` thread (its probe long cancelled at its deadline) never holds the caller
    (``asyncio.run`` would join that thread). If the caller stops early (an exception while
    recording, or closing the generator), the checks still running are cancelled.
    """
    requests = list(requests)
    if not requests:
        return
    ended: queue.SimpleQueue[tuple[int, CheckResult] | _Ended] = queue.SimpleQueue()
    loop = asyncio.new_event_loop()
    loop.set_default_executor(ThreadPoolExecutor(thread_name_prefix="nanomon-engine-io"))
    main = loop.create_task(
        run_checks_each(requests, concurrency, lambda *done: ended.put(done), not_before)
    )

    def run() -> None:
        asyncio.set_event_loop(loop)  # this thread's loop, for code that asks for "the" loop
        error: BaseException | None = None
        try:
            loop.run_until_complete(main)
        except BaseException as raised:  # reported to the caller, who re-raises it
            error = raised
        finally:
            ended.put(_Ended(error))
            try:
                if leftovers := asyncio.all_tasks(loop):
                    for task in leftovers:
                        task.cancel()
                    loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                asyncio.set_event_loop(None)
                loop.close()  # shuts the executor down without joining its threads

    thread = threading.Thread(target=run, name="nanomon-engine", daemon=True)
    thread.start()
    remaining = len(requests)
    stop: _Ended | None = None
    try:
        while remaining and stop is None:
            group: list[tuple[int, CheckResult]] = []
            flush_at = None
            while len(group) < min(group_size, remaining):
                try:
                    timeout = None if flush_at is None else flush_at - time.monotonic()
                    if timeout is not None and timeout <= 0:
                        break
                    item = ended.get(timeout=timeout)
                except queue.Empty:
                    break
                if isinstance(item, _Ended):
                    stop = item
                    break
                group.append(item)
                if flush_at is None:
                    flush_at = time.monotonic() + flush_seconds
            if group:
                remaining -= len(group)
                yield group
        if stop is not None and stop.error is not None:
            raise stop.error
        if remaining:
            raise RuntimeError(f"the engine stopped with {remaining} checks unreported")
    finally:
        if remaining or stop is None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nothing runs
                loop.call_soon_threadsafe(main.cancel)
        thread.join(timeout=DEADLINE_GRACE_SECONDS + 5)
