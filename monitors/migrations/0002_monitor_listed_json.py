"""``Monitor.listed_json``: each monitor's definition as JSON, written by PostgreSQL itself.

A trigger fills it on insert and whenever a listed column changes (Django's save, a queryset
update, an import, raw SQL alike), so ``GET /api/monitors`` only appends the current status
to each row (monitors/api/listing.py). Keys, order and date format are the serializer's;
tests/monitors/api/test_listing.py holds them equal. On other databases nothing is created.
"""

from django.db import migrations, models

# The JSON of a date as DRF writes it (UTC, microseconds only when there are some, Z); NULL
# for NULL.
RFC3339 = """
CREATE OR REPLACE FUNCTION monitors_rfc3339(value timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT '"' || CASE WHEN date_trunc('second', value) = value
        THEN to_char(value AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
        ELSE to_char(value AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') END || '"'
$$;
"""
LISTED_JSON = """
CREATE OR REPLACE FUNCTION monitors_monitor_listed_json() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.listed_json := '{"id":' || NEW.id
        || ',"name":' || to_json(NEW.name)::text
        || ',"type":' || to_json(NEW.kind)::text
        || ',"interval":' || to_json(NEW."interval")::text
        || ',"target":' || to_json(NEW.target)::text
        || ',"rule":' || to_json(NEW.rule)::text
        || ',"updated":' || monitors_rfc3339(NEW.updated_at)
        || ',"enabled":' || CASE WHEN NEW.enabled THEN 'true' ELSE 'false' END
        || ',"properties":' || NEW.properties::text
        || ',"created":' || monitors_rfc3339(NEW.created_at);
    RETURN NEW;
END
$$;
"""
TRIGGER = """
CREATE TRIGGER monitors_monitor_listed_json
BEFORE INSERT OR UPDATE OF
    id, name, kind, "interval", target, rule, updated_at, enabled, properties, created_at
ON monitors_monitor FOR EACH ROW EXECUTE FUNCTION monitors_monitor_listed_json();
"""
FILL = "UPDATE monitors_monitor SET name = name;"
DROP = (
    "DROP TRIGGER IF EXISTS monitors_monitor_listed_json ON monitors_monitor;",
    "DROP FUNCTION IF EXISTS monitors_monitor_listed_json();",
    "DROP FUNCTION IF EXISTS monitors_rfc3339(timestamptz);",
)


def create_trigger(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        for statement in (RFC3339, LISTED_JSON, TRIGGER, FILL):
            schema_editor.execute(statement)


def drop_trigger(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        for statement in DROP:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("monitors", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="monitor",
            name="listed_json",
            field=models.TextField(blank=True, default="", editable=False),
        ),
        migrations.RunPython(create_trigger, drop_trigger),
    ]
