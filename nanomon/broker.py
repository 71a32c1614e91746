"""The embedded shape's Celery broker: a kombu transport on one SQLite file (``sqlite://``).

Why not kombu's file-system transport (what NanoMon used before): it creates a message file
before writing it and its consumers move and read files without the lock, so a consumer can
read an empty file and the worker dies with ``JSONDecodeError`` (celery/kombu#1551, open);
the embedded shape's worker died after 47 s to 7 min in six runs.
``tests/nanomon/test_broker.py`` runs several producer and consumer processes against both: the
file-system transport loses that race, this one delivers every message exactly once.

How it stays correct across processes, with no server:

- every message is one row, written in one statement (an INSERT is atomic: a reader sees the
  whole row or nothing);
- a consumer takes a message with one ``DELETE ... RETURNING`` of the oldest row of its
  queue: SQLite runs it under the database's single write lock, so two consumers can never
  take the same row, and a taken row is gone;
- WAL journal mode: readers (the cheap "anything there?" poll) never wait for writers, and a
  committed message survives a crash of any process; ``synchronous`` (``FULL`` by default)
  decides whether it also survives a power cut;
- exchanges' bindings live in the same file, so a fanout (Celery's remote control,
  ``celery inspect``) reaches queues declared by other processes.

The path comes from the transport option ``path`` (``CELERY_BROKER_TRANSPORT_OPTIONS``).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from queue import Empty

from kombu.transport import TRANSPORT_ALIASES, virtual
from kombu.utils.json import dumps, loads

ALIAS = "sqlite"
BUSY_TIMEOUT_SECONDS = 30.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS kombu_message (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS kombu_message_queue ON kombu_message (queue, id);
CREATE TABLE IF NOT EXISTS kombu_binding (
    exchange TEXT NOT NULL,
    routing_key TEXT NOT NULL,
    pattern TEXT NOT NULL,
    queue TEXT NOT NULL,
    PRIMARY KEY (exchange, routing_key, pattern, queue)
);
"""


def connect(path: str, synchronous: str = "FULL") -> sqlite3.Connection:
    """An autocommit connection to the broker file, its tables created if missing."""
    if synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
        raise ValueError(f"synchronous must be OFF, NORMAL, FULL or EXTRA, got {synchronous!r}")
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    db = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
    )
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={synchronous.upper()}")
    db.executescript(SCHEMA)
    return db


class Channel(virtual.Channel):
    """One SQLite connection per channel (and per process: re-opened after a fork)."""

    supports_fanout = True
    # Payloads are JSON text in the row: no base64 round trip.
    body_encoding = None

    def __init__(self, connection, **kwargs):
        options = connection.client.transport_options
        self._path = options.get("path") or ""
        if not self._path:
            raise ValueError("the sqlite broker needs the transport option 'path'")
        self._synchronous = options.get("synchronous", "FULL")
        self._db: sqlite3.Connection | None = None
        self._db_pid = 0
        self._lock = threading.Lock()  # kombu hands pooled channels from thread to thread
        super().__init__(connection, **kwargs)

    # --- the connection -------------------------------------------------------------------

    def _run(self, sql: str, parameters: tuple = ()) -> sqlite3.Cursor:
        with self._lock:
            if self._db is None or self._db_pid != os.getpid():
                self._db = connect(self._path, self._synchronous)
                self._db_pid = os.getpid()
            return self._db.execute(sql, parameters)

    def close(self):
        super().close()
        with self._lock:
            if self._db is not None and self._db_pid == os.getpid():
                self._db.close()
            self._db = None

    # --- messages -------------------------------------------------------------------------

    def _put(self, queue, message, **kwargs):
        self._run(
            "INSERT INTO kombu_message (queue, payload) VALUES (?, ?)", (queue, dumps(message))
        )

    def _get(self, queue, timeout=None):
        # A read first: polling an empty queue never takes the write lock.
        if self._run("SELECT 1 FROM kombu_message WHERE queue = ? LIMIT 1", (queue,)).fetchone():
            row = self._run(
                "DELETE FROM kombu_message WHERE id = ("
                " SELECT id FROM kombu_message WHERE queue = ? ORDER BY id LIMIT 1"
                ") RETURNING payload",
                (queue,),
            ).fetchone()
            if row is not None:  # None: another consumer took it first
                return loads(row[0])
        raise Empty()

    def _size(self, queue):
        return self._run("SELECT count(*) FROM kombu_message WHERE queue = ?", (queue,)).fetchone()[
            0
        ]

    def _purge(self, queue):
        return self._run("DELETE FROM kombu_message WHERE queue = ?", (queue,)).rowcount

    def _delete(self, queue, *args, **kwargs):
        self._run("DELETE FROM kombu_binding WHERE queue = ?", (queue,))
        self._purge(queue)

    # --- bindings, shared by every process --------------------------------------------------

    def _queue_bind(self, exchange, routing_key, pattern, queue):
        self._run(
            "INSERT OR IGNORE INTO kombu_binding (exchange, routing_key, pattern, queue)"
            " VALUES (?, ?, ?, ?)",
            (exchange, routing_key or "", pattern or "", queue or ""),
        )

    def get_table(self, exchange):
        rows = self._run(
            "SELECT routing_key, pattern, queue FROM kombu_binding WHERE exchange = ?"
            " ORDER BY routing_key, queue",
            (exchange,),
        ).fetchall()
        return rows  # (routing_key, pattern, queue) tuples, as kombu's tables hold

    def _put_fanout(self, exchange, message, routing_key, **kwargs):
        for _routing_key, _pattern, queue in self.get_table(exchange):
            self._put(queue, message)


class Transport(virtual.Transport):
    Channel = Channel

    polling_interval = 0.1
    default_port = 0
    # A file that cannot be opened or stays locked past BUSY_TIMEOUT_SECONDS is a lost
    # connection to Celery: it retries, as it does for Redis, instead of dying.
    connection_errors = (*virtual.Transport.connection_errors, sqlite3.OperationalError)
    channel_errors = (*virtual.Transport.channel_errors, sqlite3.DatabaseError)
    driver_type = "sqlite"
    driver_name = "sqlite3"
    implements = virtual.Transport.implements.extend(
        asynchronous=False,
        exchange_type=frozenset(["direct", "topic", "fanout"]),
    )

    @property
    def default_connection_params(self):
        return {}  # a file, not a host: no "No hostname was supplied" warning

    def establish_connection(self):
        # Open the file now, so kombu's ensure_connection (and /api/health) sees a broker
        # that cannot be used (an unwritable folder, a corrupt file) at once.
        connection = super().establish_connection()
        self._avail_channels[-1]._run("SELECT 1 FROM kombu_message LIMIT 1")
        return connection

    def driver_version(self):
        return sqlite3.sqlite_version


TRANSPORT_ALIASES.setdefault(ALIAS, f"{__name__}:Transport")
