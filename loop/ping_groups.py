"""Group commit of pings: one web process records the pings that arrive together in one
transaction (``loop.pings.pings_record``), so a busy server writes hundreds of pings per
transaction instead of one.

Each request thread hands its ping to the process's ``PingRecorder`` and waits for the
transaction that records it to commit: a ping answered 200 is stored, as with one transaction
per ping. The recorder's thread takes every ping waiting at that moment (no added delay: pings
that come while a group is being written form the next group), at most ``GROUP_SIZE``, and at
most one per token (a token's later pings go to the next group, in order). A group that fails
fails each of its pings (the views answer 503, so the job's client retries).

Inside a transaction (a test, a shell in ``atomic()``) pings are recorded directly: another
thread could not see rows that are not committed yet.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from django.db import OperationalError, close_old_connections, connection
from django.utils import timezone

from loop.batches import DEADLOCK_ATTEMPTS, DEADLOCK_DETECTED
from loop.pings import Ping, PingKind, pings_record

logger = logging.getLogger(__name__)

GROUP_SIZE = 500
# The recorder's database connection is closed after this long without a ping (a connection
# per group would cost PostgreSQL a new backend process per group).
IDLE_SECONDS = 5.0
# A request waits this long for its group to commit before it answers 503.
WAIT_SECONDS = 20.0


class PingNotRecorded(Exception):
    """The ping's group could not be recorded (the database is away, or too slow)."""


@dataclass
class _Waiting:
    ping: Ping
    received_at: datetime
    done: threading.Event = field(default_factory=threading.Event)
    found: bool = False
    error: BaseException | None = None


class PingRecorder:
    """The process's group-commit recorder: ``record(ping)`` blocks until it is stored."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[_Waiting] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._start_lock = threading.Lock()

    def record(self, ping: Ping) -> bool:
        """Store ``ping``; False when no push monitor has its token."""
        if connection.in_atomic_block:
            return pings_record([(ping, timezone.now())])[0]
        self._ensure_running()
        waiting = _Waiting(ping, timezone.now())
        self._queue.put(waiting)
        if not waiting.done.wait(WAIT_SECONDS):
            raise PingNotRecorded(f"not recorded within {WAIT_SECONDS:g}s")
        if waiting.error is not None:
            raise PingNotRecorded(str(waiting.error)) from waiting.error
        return waiting.found

    def _ensure_running(self) -> None:
        # A forked child (gunicorn's workers) has the attribute but not the thread.
        if self._thread is not None and self._thread.is_alive() and self._pid == os.getpid():
            return
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive() or self._pid != os.getpid():
                self._queue = queue.SimpleQueue()
                self._pid = os.getpid()
                self._thread = threading.Thread(
                    target=self._run, name="nanomon-ping-recorder", daemon=True
                )
                self._thread.start()

    def release_connection(self) -> None:
        """Have the recorder close its database connection now, and wait until it has (tests
        do before their database is dropped)."""
        if self._thread is None or not self._thread.is_alive():
            return
        closed = threading.Event()
        self._queue.put(_Waiting(Ping("", PingKind.SUCCESS), timezone.now(), done=closed))
        closed.wait(WAIT_SECONDS)

    def _run(self) -> None:
        carried: deque[_Waiting] = deque()  # later pings of a token already in a group
        while True:
            if not carried:
                try:
                    carried.append(self._queue.get(timeout=IDLE_SECONDS))
                except queue.Empty:
                    connection.close()
                    continue
                if not carried[0].ping.token:  # release_connection()
                    connection.close()
                    carried.popleft().done.set()
                    continue
            while len(carried) < GROUP_SIZE * 2:
                try:
                    carried.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            group: list[_Waiting] = []
            tokens: set[str] = set()
            later: deque[_Waiting] = deque()
            while carried and len(group) < GROUP_SIZE:
                waiting = carried.popleft()
                if waiting.ping.token in tokens:
                    later.append(waiting)
                else:
                    tokens.add(waiting.ping.token)
                    group.append(waiting)
            carried.extendleft(reversed(later))
            self._record(group)

    def _record(self, group: list[_Waiting]) -> None:
        close_old_connections()  # a connection the database dropped is replaced
        try:
            found = _with_deadlock_retry(group)
        except BaseException as error:  # every ping of the group is answered, whatever failed
            logger.warning("could not record %d pings: %s", len(group), error)
            with contextlib.suppress(Exception):  # the connection is dropped either way
                connection.close()
            for waiting in group:
                waiting.error = error
                waiting.done.set()
            return
        for waiting, was_found in zip(group, found, strict=True):
            waiting.found = was_found
            waiting.done.set()


def _with_deadlock_retry(group: list[_Waiting]) -> list[bool]:
    attempt = 1
    while True:
        try:
            return pings_record([(waiting.ping, waiting.received_at) for waiting in group])
        except OperationalError as error:
            deadlock = getattr(error.__cause__, "sqlstate", None) == DEADLOCK_DETECTED
            if not deadlock or attempt == DEADLOCK_ATTEMPTS:
                raise
            attempt += 1


RECORDER = PingRecorder()
