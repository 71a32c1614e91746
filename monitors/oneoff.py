"""One-off checks ("Test now": the pages' button, ``POST /api/monitors/test`` and
``/api/monitors/{id}/test``) run on the Celery workers, never in a web process.

A check can take seconds (a target that never answers takes its whole timeout), and a web
process that runs it holds one of its few threads meanwhile: three "Test now" at once made
``/api/health`` fail every probe for 33 s. So:

- The web side (``one_off_check``) takes one of the user's ``NANOMON_TEST_PER_USER`` slots (a
  ``OneOffCheck`` row, so every web process counts the same tests) and a place among the tests
  its own process may wait for (``NANOMON_WEB_THREADS`` - 2: two threads are always left for
  pages and ``/api/health``), queues ``run_one_off_check`` on the ``tests`` queue, and polls
  the database for the result until ``NANOMON_TEST_TIMEOUT`` has passed.
- The worker side (``one_off_start``) hands the check to an event loop of its own (one per
  worker process) and returns at once: a slow test never holds a worker thread, so it never
  delays the dispatcher or the probe batches. The check is cut at the test's deadline; its
  result is written as a ``OneOffResult`` row, read and deleted by the waiting request.

Nothing about a test is stored beyond that row: transient outputs (the HTTP body) never are.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, close_old_connections, transaction
from django.utils import timezone

from lib.durations import format_seconds
from monitors.engine import CheckRequest, CheckResult, CheckStatus, failed_result, run_check
from monitors.models import OneOffCheck, OneOffResult
from monitors.probes.base import describe_error
from monitors.secrets import sealed_properties

logger = logging.getLogger(__name__)

# Threads of each web process kept for other requests whatever the tests waiting in it.
RESERVED_WEB_THREADS = 2
# After its deadline, the request waits this much longer for a result being written.
RESULT_GRACE_SECONDS = 1.0
# The request polls for its result this often (starting quicker: most tests take a blink).
POLL_FIRST_SECONDS, POLL_MAX_SECONDS = 0.02, 0.2
# Results nobody came for (the request gave up) are deleted after this long.
LEFTOVER_AGE = timedelta(minutes=5)


class OneOffError(Exception):
    """A test that could not run or answer; ``str()`` says why, for the person who asked."""

    retry_after: int | None = None


class TooManyTests(OneOffError):
    """The user already has ``NANOMON_TEST_PER_USER`` tests running (429)."""

    retry_after = 5


class WebBusy(OneOffError):
    """This web process already waits for as many tests as it may (503)."""

    retry_after = 5


class QueueUnavailable(OneOffError):
    """The broker refused the test (503)."""

    retry_after = 10


class NoWorkerAnswered(OneOffError):
    """No worker wrote a result before the deadline (504)."""


# --- Web side --------------------------------------------------------------------------------

_waiting = 0
_waiting_lock = threading.Lock()


def tests_per_process() -> int:
    """Tests one web process may wait for at once."""
    return max(1, settings.NANOMON_WEB_THREADS - RESERVED_WEB_THREADS)


@contextmanager
def _place_in_this_process() -> Iterator[None]:
    global _waiting
    with _waiting_lock:
        if _waiting >= tests_per_process():
            raise WebBusy(
                f"this web server is already waiting for {_plural(_waiting, 'test')}, as many "
                "as it may while it serves pages: try again in a few seconds"
            )
        _waiting += 1
    try:
        yield
    finally:
        with _waiting_lock:
            _waiting -= 1


def _claim_slot(user_id: int, now: datetime, expires_at: datetime) -> OneOffCheck:
    """One of the user's slots, or ``TooManyTests``. A unique (user, slot) pair makes two
    requests at the same moment take two different slots, on every database."""
    OneOffCheck.objects.filter(expires_at__lt=now).delete()  # left by a web process that died
    OneOffResult.objects.filter(created_at__lt=now - LEFTOVER_AGE).delete()
    limit = settings.NANOMON_TEST_PER_USER
    for slot in range(limit):
        try:
            with transaction.atomic():
                return OneOffCheck.objects.create(user_id=user_id, slot=slot, expires_at=expires_at)
        except IntegrityError:
            continue
    raise TooManyTests(
        f"you already have {_plural(limit, 'test')} running, as many as one person may "
        "(NANOMON_TEST_PER_USER): wait for one to finish"
    )


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def one_off_check(request: CheckRequest, *, user_id: int) -> CheckResult:
    """Run ``request`` once on a worker and return its result; store nothing.

    Waits at most ``NANOMON_TEST_TIMEOUT`` (plus a second for the result to be written);
    the check's own timeout is cut to what remains of it when the worker starts it. Raises
    a ``OneOffError`` (``TooManyTests``, ``WebBusy``, ``QueueUnavailable``,
    ``NoWorkerAnswered``) when it cannot answer.
    """
    from monitors.tasks import run_one_off_check

    limit = settings.NANOMON_TEST_TIMEOUT_SECONDS
    with _place_in_this_process():
        now = timezone.now()
        deadline = now + timedelta(seconds=limit)
        claim = _claim_slot(user_id, now, deadline + timedelta(seconds=RESULT_GRACE_SECONDS + 5))
        try:
            try:
                run_one_off_check.apply_async(
                    (str(claim.id), request_to_json(request), deadline.timestamp(), limit),
                    expires=deadline,
                )
            except Exception as error:
                logger.warning("could not queue a test: %s", error)
                raise QueueUnavailable(
                    "the test could not be queued: the broker is unavailable, try again shortly"
                ) from None
            result = _wait_for_result(claim.id, deadline + timedelta(seconds=RESULT_GRACE_SECONDS))
        finally:
            OneOffCheck.objects.filter(pk=claim.pk).delete()
    if result is None:
        raise NoWorkerAnswered(
            f"no worker answered this test within {format_seconds(limit)} "
            "(NANOMON_TEST_TIMEOUT): are the Celery workers running, and does one consume "
            "the 'tests' queue?"
        )
    return result


def _wait_for_result(check_id: uuid.UUID, until: datetime) -> CheckResult | None:
    pause = POLL_FIRST_SECONDS
    while True:
        row = OneOffResult.objects.filter(pk=check_id).first()
        if row is not None:
            OneOffResult.objects.filter(pk=check_id).delete()
            return result_from_json(row.result)
        left = (until - timezone.now()).total_seconds()
        if left <= 0:
            return None
        time.sleep(min(pause, left))
        pause = min(pause * 2, POLL_MAX_SECONDS)


def request_to_json(request: CheckRequest) -> dict[str, object]:
    """The check as the task carries it (plain JSON: the worker reads no monitor; secret
    properties sealed, so the broker never holds one in plaintext: the probe's parse opens
    them)."""
    return {
        "kind": request.kind,
        "target": request.target,
        "properties": sealed_properties(request.kind, request.properties),
        "rule": request.rule,
    }


def result_to_json(result: CheckResult) -> dict[str, object]:
    """What the worker writes: the result without its transient outputs (the HTTP body)."""
    return {
        "status": int(result.status),
        "value": result.value,
        "message": result.message,
        "outputs": result.stored_outputs,
        "started_at": result.started_at.isoformat(),
        "duration_seconds": result.duration_seconds,
    }


def result_from_json(data: dict[str, object]) -> CheckResult:
    return CheckResult(
        status=CheckStatus(data["status"]),
        value=float(data["value"]),
        message=str(data["message"]),
        outputs=data["outputs"],
        started_at=datetime.fromisoformat(str(data["started_at"])),
        duration_seconds=float(data["duration_seconds"]),
        stored_outputs=data["outputs"],
    )


# --- Worker side -----------------------------------------------------------------------------


class _Runner:
    """An event loop on a thread of its own that runs this process's tests concurrently, and
    one more thread that writes their results (a database call never blocks the loop)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.recorder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nanomon-test-write")
        self.thread = threading.Thread(target=self._run, name="nanomon-tests", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, check_id: str, request: CheckRequest, deadline: float, limit: float) -> None:
        asyncio.run_coroutine_threadsafe(self._test(check_id, request, deadline, limit), self.loop)

    async def _test(
        self, check_id: str, request: CheckRequest, deadline: float, limit: float
    ) -> None:
        started_at, clock = datetime.now(UTC), time.perf_counter()
        try:
            result = await asyncio.wait_for(run_check(request), deadline - time.time())
        except TimeoutError:
            result = failed_result(
                f"timed out after {format_seconds(limit)}, the longest a test may take "
                "(NANOMON_TEST_TIMEOUT)",
                started_at,
                clock,
            )
        except Exception as error:  # a probe bug must cost this test, never the loop
            result = failed_result(describe_error(error), started_at, clock)
        await self.loop.run_in_executor(self.recorder, _write_result, check_id, result)


def _write_result(check_id: str, result: CheckResult) -> None:
    close_old_connections()  # this thread keeps its connection between tests
    try:
        OneOffResult.objects.create(
            check_id=check_id, created_at=timezone.now(), result=result_to_json(result)
        )
    except Exception:  # the request then answers that no worker answered
        logger.exception("could not write the result of test %s", check_id)


_runner: _Runner | None = None
_runner_pid: int | None = None
_runner_lock = threading.Lock()


def _process_runner() -> _Runner:
    """This process's runner, started on first use (and again in a forked child)."""
    global _runner, _runner_pid
    with _runner_lock:
        if _runner is None or _runner_pid != os.getpid():
            _runner, _runner_pid = _Runner(), os.getpid()
        return _runner


def one_off_start(check_id: str, request: CheckRequest, *, deadline: float, limit: float) -> bool:
    """Start a queued test on this process's runner and return at once (False: its request
    has given up already, nothing runs). ``deadline`` is a Unix time."""
    if deadline - time.time() <= 0:
        return False
    _process_runner().submit(check_id, request, deadline, limit)
    return True
