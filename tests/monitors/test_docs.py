"""The README's monitor-type reference is generated from the probe declarations."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from monitors.management.commands.monitor_types import readme_block
from monitors.probes import REGISTRY


def test_the_readme_describes_every_property_and_output_as_declared():
    readme = (Path(settings.BASE_DIR) / "README.md").read_text()

    assert readme_block() in readme, "run: python manage.py monitor_types --write-readme"


def test_every_property_and_output_is_documented():
    for probe_type in REGISTRY.values():
        for spec in (*probe_type.properties, *probe_type.outputs):
            assert spec.help.strip(), f"{probe_type.kind}.{spec.name} has no help text"
