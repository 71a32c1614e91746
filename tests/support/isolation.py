"""Names that keep concurrent test runs apart on one PostgreSQL server and one Redis: all of
them derived from ``DATABASE_URL`` and ``CELERY_BROKER_URL`` (docs/testing.md).

* the test database: ``test_<database of DATABASE_URL>_<pid>``;
* every broker key of the run: under ``<NANOMON_BROKER_KEY_PREFIX>nanomon-tests-<pid>-<random>:``
  (the test process's own messages), each end-to-end test's processes one level below it
  (``…:e2e-<random>:``); the run deletes them all at its end.

Plain functions (no Django): ``tests/settings.py`` imports them before Django is set up.
"""

from __future__ import annotations

import re
import uuid
from urllib.parse import quote

# PostgreSQL cuts longer identifiers (NAMEDATALEN - 1).
MAX_DATABASE_NAME = 63
REDIS_SCHEMES = ("redis://", "rediss://", "redis+socket://")


def isolated_database_name(database: str, pid: int) -> str:
    """``test_<database>_<pid>``, the database's part shortened to fit PostgreSQL's limit."""
    suffix = f"_{pid}"
    room = MAX_DATABASE_NAME - len("test_") - len(suffix)
    return f"test_{database[:room]}{suffix}"


def run_key_prefix(base: str, pid: int) -> str:
    """The key prefix of one test run (``base``: the environment's NANOMON_BROKER_KEY_PREFIX)."""
    return f"{base}nanomon-tests-{pid}-{uuid.uuid4().hex[:8]}:"


def e2e_key_prefix(run_prefix: str) -> str:
    """A key prefix of one end-to-end test's processes, inside the run's."""
    return f"{run_prefix}e2e-{uuid.uuid4().hex[:12]}:"


def is_redis(url: str) -> bool:
    return url.startswith(REDIS_SCHEMES)


def key_pattern(prefix: str) -> str:
    """A SCAN pattern matching exactly the keys that start with ``prefix``."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", prefix) + "*"


def keys_under(client, prefix: str) -> list[bytes]:
    return list(client.scan_iter(match=key_pattern(prefix), count=1000))


def delete_keys_under(client, prefix: str) -> int:
    """Delete every key starting with ``prefix``; returns how many there were."""
    keys = keys_under(client, prefix)
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start : start + 1000])
    return len(keys)


def postgres_url(database: dict) -> str:
    """A ``DATABASE_URL`` for child processes from Django's ``DATABASES`` entry (with its
    password and SSL mode, when it has them)."""
    user = quote(str(database.get("USER") or ""), safe="")
    password = database.get("PASSWORD")
    credentials = f"{user}:{quote(str(password), safe='')}" if password else user
    host = str(database.get("HOST") or "")
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    port = f":{database['PORT']}" if database.get("PORT") else ""
    at = "@" if credentials else ""
    url = f"postgres://{credentials}{at}{host}{port}/{quote(str(database['NAME']), safe='')}"
    sslmode = (database.get("OPTIONS") or {}).get("sslmode")
    return f"{url}?sslmode={sslmode}" if sslmode else url
