"""A dedicated PostgreSQL database (and broker) for a benchmark, and Django pointed at it.

The scale and read-path benchmarks never touch the project's own databases: each works in a
database of its own (``nanomon_bench``, ``nanomon_bench_read``, …) that it creates, migrates
and, unless asked to keep it, drops, on the server of ``DATABASE_URL`` (``--server-url``).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from bench.common import REPOSITORY, ChildServer

LOCAL_SERVER_URL = "postgres://postgres@127.0.0.1:5432"
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def server_url_from(database_url: str | None) -> str:
    """The PostgreSQL server of a ``DATABASE_URL`` (its database left out, its query such as
    ``sslmode`` kept); the local server when unset or not PostgreSQL."""
    if not database_url or not database_url.startswith(("postgres://", "postgresql://")):
        return LOCAL_SERVER_URL
    parts = urlsplit(database_url)
    return urlunsplit((parts.scheme, parts.netloc, "", parts.query, ""))


# The server the benchmarks make their databases on: DATABASE_URL's (`--server-url` wins).
DEFAULT_SERVER_URL = server_url_from(os.environ.get("DATABASE_URL"))


def database_url(server_url: str, database: str) -> str:
    """``database`` on the server of ``server_url``."""
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, ""))


def _admin(server_url: str) -> psycopg.Connection:
    return psycopg.connect(database_url(server_url, "postgres"), autocommit=True)


def check_name(database: str) -> str:
    if not _NAME.match(database):
        raise ValueError(f"not a plain database name: {database!r}")
    return database


def database_exists(server_url: str, database: str) -> bool:
    with _admin(server_url) as connection:
        row = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [check_name(database)]
        ).fetchone()
    return row is not None


def drop_database(server_url: str, database: str) -> None:
    with _admin(server_url) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(check_name(database))
            )
        )


def create_database(server_url: str, database: str) -> None:
    drop_database(server_url, database)
    with _admin(server_url) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def process_environment(*, database_url: str, broker_url: str, data_dir: Path) -> dict[str, str]:
    """The environment for NanoMon processes (and this one) working on the bench database."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "nanomon.settings",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
        "NANOMON_DATA_DIR": str(data_dir),
        "NANOMON_LOG_LEVEL": os.environ.get("NANOMON_LOG_LEVEL", "WARNING"),
        "DJANGO_SECRET_KEY": "bench-only-secret-key-not-for-production-use-0123456789",
        "PYTHONUNBUFFERED": "1",
    }


def migrate(environment: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--verbosity", "0"],
        cwd=REPOSITORY,
        env=environment,
        check=True,
        timeout=600,
    )


def collect_static(environment: dict[str, str]) -> None:
    """Hashed static file names (the production storage) need collectstatic's manifest."""
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=REPOSITORY,
        env=environment,
        check=True,
        timeout=600,
    )


def setup_django(environment: dict[str, str]) -> None:
    """Configure Django in this process for the bench database (once per process)."""
    import django

    for name in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "CELERY_BROKER_URL",
                 "NANOMON_DATA_DIR", "DJANGO_SECRET_KEY", "NANOMON_LOG_LEVEL"):  # fmt: skip
        os.environ[name] = environment[name]
    django.setup()


class PrivateRedis(ChildServer):
    """A throw-away ``redis-server`` on a free loopback port, without persistence.

    For quick runs (the smoke test): concurrent test runs on a shared machine then never
    share a broker database.
    """

    def __init__(self) -> None:
        super().__init__(prefix="nanomon-bench-redis-")
        self.binary = shutil.which("redis-server")
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def __enter__(self) -> PrivateRedis:
        if not self.binary:
            raise RuntimeError("redis-server is not installed (needed for a private broker)")
        self.process = subprocess.Popen(
            [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        self.__exit__(None, None, None)
        raise RuntimeError("the private redis-server did not start")


def forget_broker_keys(env: dict[str, str]) -> None:
    """Leave the shared broker as found: on Redis delete the run's keys (its own prefix); on
    RabbitMQ delete the queues it declared."""
    url = env["CELERY_BROKER_URL"]
    if url.startswith("amqp"):
        from kombu import Connection

        with Connection(url) as connection:
            channel = connection.channel()
            for queue in ("celery", "probes", "alerts", "tests"):  # nanomon/celery.py's
                channel.queue_delete(queue)
        return
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(f"{env['NANOMON_BROKER_KEY_PREFIX']}*"))
    if keys:
        client.delete(*keys)
