"""Cheap checks of what NanoMon needs to work: the database and the Celery broker.

``/api/health`` may be hit every second by a load balancer: the database check is one
``SELECT 1`` on the request's connection, and the broker check (a fresh connection) is cached
per process for ``BROKER_CHECK_TTL_SECONDS``.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.utils import timezone

logger = logging.getLogger(__name__)

BROKER_CHECK_TTL_SECONDS = 2.0
BROKER_TIMEOUT_SECONDS = 1.0

_broker_lock = threading.Lock()
_broker_cache: tuple[float, Check] | None = None


@dataclass(frozen=True)
class Check:
    """The outcome of one check: reachable or not, and a short reason when not."""

    ok: bool
    detail: str = ""


def _reason(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}"[:200] if text else type(error).__name__


def database_check() -> Check:
    """``SELECT 1`` on the default database."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:  # any failure means "not reachable", never a 500
        return Check(False, _reason(error))
    return Check(True)


def broker_transport() -> str:
    """The broker's kind as written in its URL: ``redis``, ``amqp``, ``sqlite``."""
    return settings.CELERY_BROKER_URL.split("://", 1)[0] or "unknown"


def _check_broker_now() -> Check:
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}) or {}
    from kombu import Connection

    try:
        with Connection(
            settings.CELERY_BROKER_URL,
            connect_timeout=BROKER_TIMEOUT_SECONDS,
            transport_options={
                **options,
                "socket_timeout": BROKER_TIMEOUT_SECONDS,
                "socket_connect_timeout": BROKER_TIMEOUT_SECONDS,
            },
        ) as broker:
            broker.ensure_connection(max_retries=0)  # fail at once, no retry loop
    except Exception as error:
        return Check(False, _reason(error))
    return Check(True)


def broker_check() -> Check:
    """Whether the broker accepts a connection; cached for ``BROKER_CHECK_TTL_SECONDS``."""
    global _broker_cache
    with _broker_lock:  # concurrent requests wait for one check instead of piling up
        if _broker_cache is not None:
            checked_at, result = _broker_cache
            if time.monotonic() - checked_at < BROKER_CHECK_TTL_SECONDS:
                return result
        result = _check_broker_now()
        _broker_cache = (time.monotonic(), result)
        return result


def forget_broker_check() -> None:
    """Drop the cached broker result (tests; a settings change)."""
    global _broker_cache
    with _broker_lock:
        _broker_cache = None


# --- The monitoring loop: are workers alive, is the dispatcher keeping up ----------------------
#
# The database and the broker can be reachable while nothing monitors: every worker frozen or
# stopped, or beat gone. Workers write a heartbeat when they run the dispatcher's tick or record
# results (``metrics.services.worker_heartbeat``, at most every 15 s), and the dispatcher leaves
# no enabled monitor due for long. Both are read at most every ``LOOP_CHECK_TTL_SECONDS`` per
# process (two indexed queries), so ``/api/health`` stays cheap.
#
# Start-up grace: before any worker has ever been seen (a fresh install, or web started before
# its first worker), a web process reports "starting" rather than degraded for its first
# ``NANOMON_HEALTH_WORKER_STALE``. Once a heartbeat exists, a stale one is degraded at once, even
# in a process that has just started (a restarted web must not hide frozen workers).

LOOP_CHECK_TTL_SECONDS = 2.0

_loop_lock = threading.Lock()
_loop_cache: tuple[float, LoopHealth | None] | None = None


def go_duration(seconds: float) -> str:
    """Whole seconds the way Go prints a duration: ``45s``, ``2m5s``, ``1h0m5s``."""
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


@dataclass(frozen=True)
class LoopHealth:
    """Whether the monitoring loop runs: workers seen lately, and the dispatcher's lag."""

    workers: Check  # a worker seen within NANOMON_HEALTH_WORKER_STALE
    dispatcher: Check  # no enabled monitor due for more than NANOMON_HEALTH_MAX_LAG
    last_worker_seen_at: datetime | None
    lag_seconds: float  # how long the oldest due monitor has waited (0: none is due)
    starting: bool  # no worker ever seen, within this process's start-up grace


def _check_loop_now(now: datetime) -> LoopHealth:
    from metrics import apps
    from metrics.selectors import loop_state

    stale = settings.NANOMON_HEALTH_WORKER_STALE_SECONDS
    max_lag = settings.NANOMON_HEALTH_MAX_LAG_SECONDS
    # No heartbeat at all: no worker ever ran the dispatcher, so it has no lag to speak of.
    last_seen, oldest = loop_state(now=now)
    lag = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
    uptime = time.monotonic() - apps.STARTED_MONOTONIC
    starting = last_seen is None and uptime < stale

    workers = Check(True)
    limit = f"(limit {go_duration(stale)})"
    if stale and last_seen is None and not starting:
        workers = Check(False, f"no worker seen since this process started {limit}")
    elif stale and last_seen is not None and (age := (now - last_seen).total_seconds()) > stale:
        workers = Check(False, f"no worker seen for {go_duration(age)} {limit}")
    dispatcher = Check(True)
    if max_lag and lag > max_lag and not starting:
        dispatcher = Check(
            False, f"dispatcher {go_duration(lag)} behind schedule (limit {go_duration(max_lag)})"
        )
    return LoopHealth(workers, dispatcher, last_seen, lag, starting)


def loop_check(*, now: datetime | None = None, fresh: bool = False) -> LoopHealth | None:
    """The loop's health (one query), cached for ``LOOP_CHECK_TTL_SECONDS`` unless ``fresh``;
    None when it cannot be read (e.g. tables not migrated yet)."""
    global _loop_cache
    with _loop_lock:
        if (
            not fresh
            and _loop_cache is not None
            and time.monotonic() - _loop_cache[0] < LOOP_CHECK_TTL_SECONDS
        ):
            return _loop_cache[1]
        try:
            result: LoopHealth | None = _check_loop_now(now or timezone.now())
        except Exception:  # never a 500 from a health check
            logger.warning("health: could not read the loop's state", exc_info=True)
            result = None
        _loop_cache = (time.monotonic(), result)
        return result


def forget_loop_check() -> None:
    """Drop the cached loop result (tests; after a settings change)."""
    global _loop_cache
    with _loop_lock:
        _loop_cache = None


@dataclass(frozen=True)
class Health:
    """Everything ``/api/health``, ``/api/status`` and the dashboard's banner report."""

    database: Check
    broker: Check
    loop: LoopHealth | None  # None when the database is unreachable

    @property
    def reasons(self) -> list[str]:
        """Why the service is degraded, most basic first; empty when healthy."""
        checks = (("database", self.database), ("broker", self.broker))
        down = [name for name, check in checks if not check.ok]
        reasons = [f"{' and '.join(down)} unreachable"] if down else []
        if self.loop is not None:
            reasons += [c.detail for c in (self.loop.workers, self.loop.dispatcher) if not c.ok]
        return reasons

    @property
    def healthy(self) -> bool:
        return not self.reasons


def service_health() -> Health:
    """The database (one ``SELECT 1``), the broker and the loop (both cached)."""
    database, broker = database_check(), broker_check()
    if not database.ok:
        logger.warning("health: database unreachable: %s", database.detail)
    if not broker.ok:
        logger.warning("health: broker unreachable: %s", broker.detail)
    return Health(database, broker, loop_check() if database.ok else None)


def page_health() -> Health:
    """``service_health`` for a page that has just read the database: the loop read afresh
    (one query, the same on every render) and the cached broker check."""
    return Health(Check(True), broker_check(), loop_check(fresh=True))
