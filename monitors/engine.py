"""The probe engine: run checks concurrently on one asyncio loop and apply each monitor's rule.

Plain data in (CheckRequest), plain data out (CheckResult); no ORM here, so the scheduler,
the one-off ``probe`` command and the API's "test" action all share exactly this code.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from monitors.durations import format_seconds
from monitors.probes import get_probe_type
from monitors.probes.base import OutputValue, ProbeFailure, PropertyError, describe_error
from monitors.rules import RuleError, RuleEvalError, compile_rule

# The engine's own safety net beyond a probe's declared timeout: a probe that ignores its
# deadline is cancelled this many seconds later and reported as timed out.
DEADLINE_GRACE_SECONDS = 0.5


class CheckStatus(enum.IntEnum):
    """Outcome of one run; the same numbers as ``results.models.Result.Status``."""

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


async def run_check(request: CheckRequest) -> CheckResult:
    """Run one check under one total deadline, then its rule. Never raises for probe errors."""
    started_at = datetime.now(UTC)
    clock = time.perf_counter()

    def failed(message: str) -> CheckResult:
        return CheckResult(
            status=CheckStatus.FAILED,
            value=0.0,
            message=message,
            outputs=None,
            started_at=started_at,
            duration_seconds=time.perf_counter() - clock,
        )

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
    deadline = probe_type.deadline(parsed)
    try:
        measured = await asyncio.wait_for(
            probe_type.probe(request.target, parsed), deadline + DEADLINE_GRACE_SECONDS
        )
    except ProbeFailure as error:
        return failed(str(error))
    except TimeoutError:
        return failed(f"timed out after {format_seconds(deadline)}")
    except Exception as error:  # a probe bug must cost one result, never the batch
        return failed(describe_error(error))
    status, message = apply_rule(request.rule, measured.outputs)
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


async def run_checks(
    requests: Sequence[CheckRequest],
    concurrency: int,
    not_before: Sequence[datetime | None] | None = None,
) -> list[CheckResult]:
    """Run many checks on this loop with at most ``concurrency`` in flight; keeps order.

    ``not_before`` (one aware datetime or None per request) holds a check back until that
    time: the dispatcher claims monitors slightly ahead of their slot, and each one starts on
    its slot, not on the dispatcher's tick. A waiting check takes no place in flight.
    """
    gate = asyncio.Semaphore(max(1, concurrency))
    starts = list(not_before) if not_before is not None else [None] * len(requests)

    async def gated(request: CheckRequest, start: datetime | None) -> CheckResult:
        if start is not None:
            while (wait := (start - datetime.now(UTC)).total_seconds()) > 0:
                await asyncio.sleep(wait)
        async with gate:
            return await run_check(request)

    return list(
        await asyncio.gather(
            *(gated(request, start) for request, start in zip(requests, starts, strict=True))
        )
    )


def run_checks_sync(
    requests: Iterable[CheckRequest],
    concurrency: int,
    not_before: Sequence[datetime | None] | None = None,
) -> list[CheckResult]:
    """Blocking wrapper for callers outside an event loop (Celery tasks, commands, views)."""
    return asyncio.run(run_checks(list(requests), concurrency, not_before))
