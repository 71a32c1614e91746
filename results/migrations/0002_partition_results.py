"""PostgreSQL: results_result becomes a table partitioned by RANGE on ``date``, one partition
per UTC day (``results_result_pYYYYMMDD``) plus a DEFAULT partition (``results_result_default``)
that catches any row outside the created days, so an insert never fails.

The existing rows move into the new table: one partition for every day that has rows, and the
days from today to three days ahead (the beat task ``results.tasks.maintain_results`` keeps
creating days ahead and drops days older than ``RESULTS_RETENTION``). The id sequence keeps its
position; the indexes, check and foreign key constraints keep their names. The database primary
key becomes (id, date), as PostgreSQL requires the partition key in it; Django keeps ``id`` as
the model's primary key, so the model state does not change.

On SQLite (and any other database) this migration does nothing: retention there deletes in
batches (``results.partitions``).
"""

import re
from datetime import UTC, datetime, timedelta

from django.db import migrations

TABLE = "results_result"
OLD = "results_result_unpartitioned"
SEQUENCE = "results_result_id_seq"
DAYS_AHEAD = 3


def _one(cursor, sql, params=None):
    cursor.execute(sql, params)
    return cursor.fetchone()


def _all(cursor, sql, params=None):
    cursor.execute(sql, params)
    return cursor.fetchall()


def _day_partition_sql(table: str, day) -> str:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    end = start + timedelta(days=1)
    return (
        f"CREATE TABLE {table}_p{start:%Y%m%d} PARTITION OF {table} "
        f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
    )


def partition(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        (kind,) = _one(cursor, "SELECT relkind FROM pg_class WHERE oid = %s::regclass", [TABLE])
        if kind == "p":
            return  # already partitioned
        cursor.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")

        # Where the id sequence stands (identity or serial), and the table's indexes and
        # constraints, to recreate them under the same names.
        (sequence,) = _one(cursor, "SELECT pg_get_serial_sequence(%s, 'id')", [TABLE])
        last_value, is_called = (1, False)
        if sequence:
            last_value, is_called = _one(cursor, f"SELECT last_value, is_called FROM {sequence}")  # noqa: S608 (names from this module and the catalog)
        (max_id,) = _one(cursor, f"SELECT COALESCE(max(id), 0) FROM {TABLE}")  # noqa: S608 (names from this module and the catalog)
        indexes = _all(
            cursor,
            "SELECT pg_get_indexdef(x.indexrelid) FROM pg_index x "
            "WHERE x.indrelid = %s::regclass AND NOT x.indisprimary ORDER BY x.indexrelid",
            [TABLE],
        )
        foreign_keys = _all(
            cursor,
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY conname",
            [TABLE],
        )
        # Nothing can reference a partitioned table's id alone (alerts 0003 dropped the
        # transition's constraint; drop any other left by hand).
        for referrer, name in _all(
            cursor,
            "SELECT conrelid::regclass::text, conname FROM pg_constraint "
            "WHERE confrelid = %s::regclass AND contype = 'f'",
            [TABLE],
        ):
            cursor.execute(f'ALTER TABLE {referrer} DROP CONSTRAINT "{name}"')
        days = [
            row[0]
            for row in _all(
                cursor,
                f"SELECT DISTINCT (date AT TIME ZONE 'UTC')::date FROM {TABLE} ORDER BY 1",  # noqa: S608 (names from this module and the catalog)
            )
        ]

        cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {OLD}")
        (identity,) = _one(
            cursor,
            "SELECT attidentity FROM pg_attribute WHERE attrelid = %s::regclass AND attname = 'id'",
            [OLD],
        )
        if identity:
            cursor.execute(f"ALTER TABLE {OLD} ALTER COLUMN id DROP IDENTITY")
        else:
            cursor.execute(f"ALTER TABLE {OLD} ALTER COLUMN id DROP DEFAULT")
            if sequence:
                cursor.execute(f"DROP SEQUENCE {sequence}")
        cursor.execute(
            f"CREATE TABLE {TABLE} (LIKE {OLD} INCLUDING DEFAULTS INCLUDING CONSTRAINTS) "
            "PARTITION BY RANGE (date)"
        )
        cursor.execute(f"CREATE SEQUENCE {SEQUENCE} AS bigint OWNED BY {TABLE}.id")
        cursor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN id SET DEFAULT nextval('{SEQUENCE}')")
        if max_id > last_value or (max_id == last_value and not is_called):
            last_value, is_called = max_id, max_id > 0
        cursor.execute("SELECT setval(%s, %s, %s)", [SEQUENCE, max(last_value, 1), is_called])

        today = datetime.now(UTC).date()
        ahead = [today + timedelta(days=n) for n in range(DAYS_AHEAD + 1)]
        for day in sorted(set(days) | set(ahead)):
            cursor.execute(_day_partition_sql(TABLE, day))
        cursor.execute(f"CREATE TABLE {TABLE}_default PARTITION OF {TABLE} DEFAULT")

        cursor.execute(f"INSERT INTO {TABLE} SELECT * FROM {OLD}")  # noqa: S608 (names from this module and the catalog)
        cursor.execute(f"DROP TABLE {OLD}")

        cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (id, date)")
        for (definition,) in indexes:
            cursor.execute(re.sub(r" ON (\S+\.)?" + OLD + " ", f" ON {TABLE} ", definition))
        for name, definition in foreign_keys:
            cursor.execute(f'ALTER TABLE {TABLE} ADD CONSTRAINT "{name}" {definition}')


def unpartition(apps, schema_editor):
    """Back to one plain table with an identity id (the rows of every partition kept)."""
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        (kind,) = _one(cursor, "SELECT relkind FROM pg_class WHERE oid = %s::regclass", [TABLE])
        if kind != "p":
            return
        cursor.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
        last_value, is_called = _one(cursor, f"SELECT last_value, is_called FROM {SEQUENCE}")  # noqa: S608 (names from this module and the catalog)
        indexes = _all(
            cursor,
            "SELECT pg_get_indexdef(x.indexrelid) FROM pg_index x "
            "WHERE x.indrelid = %s::regclass AND NOT x.indisprimary ORDER BY x.indexrelid",
            [TABLE],
        )
        foreign_keys = _all(
            cursor,
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY conname",
            [TABLE],
        )
        cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {OLD}")
        cursor.execute(f"ALTER TABLE {OLD} ALTER COLUMN id DROP DEFAULT")
        cursor.execute(
            f"CREATE TABLE {TABLE} (LIKE {OLD} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
        )
        cursor.execute(f"INSERT INTO {TABLE} SELECT * FROM {OLD}")  # noqa: S608 (names from this module and the catalog)
        cursor.execute(f"DROP TABLE {OLD} CASCADE")  # its partitions and sequence with it
        cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (id)")
        cursor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY")
        (sequence,) = _one(cursor, "SELECT pg_get_serial_sequence(%s, 'id')", [TABLE])
        cursor.execute("SELECT setval(%s, %s, %s)", [sequence, last_value, is_called])
        for (definition,) in indexes:
            cursor.execute(re.sub(r" ON (ONLY )?(\S+\.)?" + OLD + " ", f" ON {TABLE} ", definition))
        for name, definition in foreign_keys:
            cursor.execute(f'ALTER TABLE {TABLE} ADD CONSTRAINT "{name}" {definition}')


class Migration(migrations.Migration):
    dependencies = [
        ("results", "0001_initial"),
        # The transition's foreign key to a result goes first: nothing may reference
        # results_result(id) once its primary key is (id, date).
        ("alerts", "0003_transition_result_no_db_constraint"),
    ]

    operations = [migrations.RunPython(partition, unpartition)]
