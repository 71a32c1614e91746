"""The built-in email channel: its settings come from ALERT_SMTP_* at send time, so the
environment variables alone configure email alerts (no database setup). It is a default
channel and is used only while ALERT_SMTP_FROM and ALERT_SMTP_TO are set."""

from django.db import migrations


def create_builtin_channel(apps, schema_editor):
    Channel = apps.get_model("alerts", "Channel")
    Channel.objects.get_or_create(
        builtin="settings-email",
        defaults={
            "name": "Email (ALERT_SMTP_* settings)",
            "kind": "email",
            "enabled": True,
            "is_default": True,
            "config": {},
        },
    )


class Migration(migrations.Migration):
    dependencies = [("alerts", "0001_initial")]

    operations = [migrations.RunPython(create_builtin_channel, migrations.RunPython.noop)]
