"""Throw-away Redis and PostgreSQL servers that a fault benchmark or test can stop and start
again on the same port: a broker restart, a database outage.

Both listen on a free loopback port and keep their data in a temporary folder that goes
with them (``ChildServer``). PostgreSQL runs as the ``postgres`` OS user when this process
is root (it refuses to run as root).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from bench.common import ChildServer
from bench.db import PrivateRedis

READY_SECONDS = 30.0


def wait_for_port(port: int, timeout: float = READY_SECONDS) -> None:
    """Return once something accepts connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on 127.0.0.1:{port}") from None
            time.sleep(0.05)


class RestartableRedis(PrivateRedis):
    """A private ``redis-server`` (no persistence) that can be stopped and started again on
    its port: a restart loses every queued message, as a Redis without persistence does."""

    restarts = 0

    def stop(self) -> None:
        """Stop the server (SIGTERM, as a service manager does) and wait until it is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def start(self) -> None:
        """Start the server again on the same port."""
        if self.process is not None and self.process.poll() is None:
            return
        PrivateRedis.__enter__(self)
        self.restarts += 1

    def restart(self, down_seconds: float = 0.0) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()


def postgres_bin_dir() -> Path:
    """The folder of ``initdb`` and ``pg_ctl``: ``pg_config --bindir``, the PATH, or Debian's
    ``/usr/lib/postgresql/<version>/bin``."""
    candidates = []
    if pg_config := shutil.which("pg_config"):
        completed = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        candidates.append(Path(completed.stdout.strip()))
    if initdb := shutil.which("initdb"):
        candidates.append(Path(initdb).resolve().parent)
    candidates.extend(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True))
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    raise RuntimeError("PostgreSQL's initdb and pg_ctl were not found (needed for a private one)")


class PrivatePostgres(ChildServer):
    """A private PostgreSQL cluster (trust authentication, user ``postgres``) on a free
    loopback port; ``stop`` and ``start`` keep its data, so an outage is a real one."""

    def __init__(self) -> None:
        super().__init__(prefix="nanomon-faults-postgres-")
        self.bin = postgres_bin_dir()
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self.server_url = f"postgres://postgres@127.0.0.1:{self.port}"
        self._as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def url(self, database: str) -> str:
        return f"{self.server_url}/{database}"

    def _run(self, *command: str, timeout: float = 120) -> None:
        subprocess.run(
            [*self._as_postgres, *command],
            check=True,
            timeout=timeout,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def __enter__(self) -> PrivatePostgres:
        if self._as_postgres:
            shutil.chown(self.folder, user="postgres")
        try:
            self._run(
                str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                "--auth=trust", "--no-sync",
            )  # fmt: skip
            self.start()
        except BaseException:
            self._directory.cleanup()
            raise
        return self

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=200"
        )
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.log),
            "-w", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: ``fast`` disconnects every client (a planned restart),
        ``immediate`` is a crash."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def create_database(self, name: str) -> str:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.url("postgres"), autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                self.stop("immediate")
        super().__exit__(exc_type, exc, traceback)
