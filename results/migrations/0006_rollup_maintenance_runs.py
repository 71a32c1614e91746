"""Rollups count the runs that started inside a maintenance window apart (uptime leaves them
out: docs/alerting.md, Maintenance and uptime). Rows written before count none (a window
entered for the past reaches them through ``manage.py rollups_rebuild``). On PostgreSQL the
covering unique index (0004) is rebuilt to carry the two new counters too, so uptime reads stay
index-only scans; the constraint keeps its name and columns."""

from django.db import migrations, models

TABLE = "results_rollup"
NAME = "rollup_monitor_resolution_start"
COVERING = "rollup_monitor_resolution_start_cover"


def _cover(schema_editor, included: str) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE UNIQUE INDEX {COVERING}_new ON {TABLE} (monitor_id, resolution, start) "
        f"INCLUDE ({included})"
    )
    schema_editor.execute(f"ALTER TABLE {TABLE} DROP CONSTRAINT {NAME}")
    schema_editor.execute(f"ALTER INDEX {COVERING}_new RENAME TO {COVERING}")
    schema_editor.execute(
        f"ALTER TABLE {TABLE} ADD CONSTRAINT {NAME} UNIQUE USING INDEX {COVERING}"
    )


def forwards(apps, schema_editor):
    _cover(schema_editor, "runs_ok, runs_error, runs_failed, runs_maintenance, runs_maintenance_ok")


def backwards(apps, schema_editor):
    _cover(schema_editor, "runs_ok, runs_error, runs_failed")


class Migration(migrations.Migration):
    dependencies = [("results", "0005_monitorstate_memory")]

    operations = [
        migrations.AddField(
            model_name="rollup",
            name="runs_maintenance",
            field=models.PositiveIntegerField(
                default=0,
                help_text="Runs (of any status) that started inside a maintenance window.",
            ),
        ),
        migrations.AddField(
            model_name="rollup",
            name="runs_maintenance_ok",
            field=models.PositiveIntegerField(
                default=0, help_text="The OK ones of the maintenance runs."
            ),
        ),
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
