"""Alert channels' secret settings (SMTP password, webhook URL and headers, Apprise URLs: each
kind's ``ConfigField(secret=True)``) are stored sealed (``enc:v1:…``, docs/security.md): every
one stored in plaintext so far is sealed with the first key of NANOMON_SECRETS_KEY (or the key
derived from DJANGO_SECRET_KEY when it is not set). Reversed: opened again (plaintext)."""

import json

from django.db import migrations


def seal(apps, schema_editor):
    from alerts.channels import REGISTRY

    Channel = apps.get_model("alerts", "Channel")
    for channel in Channel.objects.only("id", "kind", "config").iterator(chunk_size=1000):
        transport = REGISTRY.get(channel.kind)
        if transport is None or not channel.config:
            continue
        sealed = transport.sealed_config(channel.config)
        if sealed != channel.config:
            Channel.objects.filter(pk=channel.pk).update(config=sealed)


def unseal(apps, schema_editor):
    from alerts.channels import REGISTRY
    from lib.secrets_at_rest import is_sealed, open_sealed

    Channel = apps.get_model("alerts", "Channel")
    for channel in Channel.objects.only("id", "kind", "config").iterator(chunk_size=1000):
        transport = REGISTRY.get(channel.kind)
        if transport is None or not channel.config:
            continue
        opened = dict(channel.config)
        for spec in transport.fields:
            if spec.secret and is_sealed(opened.get(spec.name)):
                opened[spec.name] = json.loads(open_sealed(opened[spec.name]))
        if opened != channel.config:
            Channel.objects.filter(pk=channel.pk).update(config=opened)


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0003_transition_result_no_db_constraint"),
    ]

    operations = [migrations.RunPython(seal, unseal, elidable=False)]
