"""What the read-path and pages benchmarks share about their seeded databases: a one-row
table recording what was seeded (so ``--reuse`` knows whether a database fits), and
``VACUUM ANALYZE`` after seeding. Each script seeds its own data set."""

from __future__ import annotations

import time


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
