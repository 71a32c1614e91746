"""Cheap checks of what NanoMon needs to work: the database and the Celery broker.

``/api/health`` may be hit every second by a load balancer: the database check is one
``SELECT 1`` on the request's connection, and the broker check (a fresh connection) is cached
per process for ``BROKER_CHECK_TTL_SECONDS``.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import connection

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
    """The broker's kind as written in its URL: ``redis``, ``amqp``, ``filesystem``."""
    return settings.CELERY_BROKER_URL.split("://", 1)[0] or "unknown"


def _check_broker_now() -> Check:
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}) or {}
    if broker_transport() == "filesystem":
        folder = options.get("data_folder_in", "")
        if folder and os.path.isdir(folder) and os.access(folder, os.W_OK | os.X_OK):
            return Check(True)
        return Check(False, f"broker folder {folder or '(unset)'} is not writable")
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
