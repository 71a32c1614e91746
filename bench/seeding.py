"""What the read-path and pages benchmarks share about their seeded databases: the mix of
monitor kinds, the chunked ``INSERT … SELECT`` of results, a one-row table recording what was
seeded (so ``--reuse`` knows whether a database fits), and ``VACUUM ANALYZE`` after seeding.
Each script seeds its own data set (its names, targets, states and result statuses)."""

from __future__ import annotations

import time
from collections.abc import Sequence

# 70 % http, 10 % each tcp, ping and dns.
KINDS = ("http", "http", "http", "http", "http", "http", "http", "tcp", "ping", "dns")


def kind_of(index: int) -> str:
    """The kind of the ``index``-th seeded monitor."""
    return KINDS[index % len(KINDS)]


def insert_results_by_chunk(
    statement: str,
    ids: Sequence[int],
    chunk_monitors: int,
    parameters: Sequence[object],
    *,
    progress: str,
    since: float,
) -> None:
    """Run ``statement`` (an ``INSERT … SELECT`` over the monitors whose id lies between its
    last two parameters) once per chunk of ``chunk_monitors`` of the sorted ``ids``, each chunk
    in its own transaction, with foreign-key triggers off (seeding only). ``parameters`` come
    before the chunk's first and last id; after each chunk prints ``<progress> for done/all
    monitors (<seconds since ``since``>s)``."""
    from django.db import connection, transaction

    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")  # no FK triggers: seeding only
        try:
            for start in range(0, len(ids), chunk_monitors):
                chunk = ids[start : start + chunk_monitors]
                with transaction.atomic():
                    cursor.execute(statement, [*parameters, chunk[0], chunk[-1]])
                print(
                    f"  {progress} for {min(start + chunk_monitors, len(ids))}/{len(ids)} "
                    f"monitors ({time.monotonic() - since:.0f}s)",
                    flush=True,
                )
        finally:
            cursor.execute("SET session_replication_role = DEFAULT")


def seeded_sizes(table: str) -> tuple[int, int] | None:
    """(monitors, results) recorded by a finished seeding in ``table``, or None."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [table])
        if cursor.fetchone()[0] is None:
            return None
        cursor.execute(f"SELECT monitors, results FROM {table} LIMIT 1")  # noqa: S608
        row = cursor.fetchone()
    return (row[0], row[1]) if row else None


def record_seed(table: str, monitors: int, results: int) -> None:
    """Record a finished seeding (read back by ``seeded_sizes``)."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {table} "
            "(monitors integer, results bigint, seeded_at timestamptz DEFAULT now())"
        )
        cursor.execute(f"DELETE FROM {table}")  # noqa: S608
        cursor.execute(
            f"INSERT INTO {table} (monitors, results) VALUES (%s, %s)",  # noqa: S608
            [monitors, results],
        )


def vacuum_analyze(database_url: str) -> float:
    """``VACUUM ANALYZE`` the whole database; returns the seconds it took."""
    import psycopg

    started = time.monotonic()
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")
    return round(time.monotonic() - started, 1)
