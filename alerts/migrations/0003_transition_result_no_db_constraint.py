"""A transition keeps the id of the result that caused it, without a database foreign key.

On PostgreSQL results live in daily partitions (results 0002) whose primary key is (id, date):
no unique constraint on id alone can exist, so no foreign key can point at it, and retention
drops whole days of results while their transitions stay. ``Transition.result`` may therefore
name a result that is gone: readers use ``result_id`` or tolerate ``Result.DoesNotExist``.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0002_builtin_email_channel"),
        ("results", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="transition",
            name="result",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="results.result",
            ),
        ),
    ]
