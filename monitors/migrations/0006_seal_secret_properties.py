"""Secret properties are stored sealed (``enc:v1:…``, docs/security.md): every one stored in
plaintext so far is sealed with the first key of NANOMON_SECRETS_KEY (or the key derived from
DJANGO_SECRET_KEY when it is not set). Which properties are secret is the probe registry's
declaration (``PropertySpec.secret``), as everywhere. Reversed: opened again (plaintext)."""

from django.db import migrations


def _rows(apps):
    from monitors.probes import REGISTRY
    from monitors.secrets import secret_property_names

    Monitor = apps.get_model("monitors", "Monitor")
    kinds = [kind for kind in REGISTRY if secret_property_names(kind)]
    return Monitor, Monitor.objects.filter(kind__in=kinds).only("id", "kind", "properties")


def seal(apps, schema_editor):
    from monitors.secrets import sealed_properties

    Monitor, rows = _rows(apps)
    for monitor in rows.iterator(chunk_size=1000):
        sealed = sealed_properties(monitor.kind, monitor.properties)
        if sealed != (monitor.properties or {}):
            Monitor.objects.filter(pk=monitor.pk).update(properties=sealed)


def unseal(apps, schema_editor):
    from lib.secrets_at_rest import is_sealed, open_sealed
    from monitors.secrets import secret_property_names

    Monitor, rows = _rows(apps)
    for monitor in rows.iterator(chunk_size=1000):
        opened = dict(monitor.properties or {})
        for name in secret_property_names(monitor.kind):
            if is_sealed(opened.get(name)):
                opened[name] = open_sealed(opened[name])
        if opened != (monitor.properties or {}):
            Monitor.objects.filter(pk=monitor.pk).update(properties=opened)


class Migration(migrations.Migration):
    dependencies = [
        ("monitors", "0005_push_monitors"),
    ]

    operations = [migrations.RunPython(seal, unseal, elidable=False)]
