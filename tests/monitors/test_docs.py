"""The monitor-type reference in docs/monitor-types.md is generated from the probe declarations."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from monitors.management.commands.monitor_types import DOCS, docs_block
from monitors.probes import REGISTRY


def test_the_docs_describe_every_property_and_output_as_declared():
    docs = (Path(settings.BASE_DIR) / DOCS).read_text()

    assert docs_block() in docs, "run: python manage.py monitor_types --write-docs"


def test_every_property_and_output_is_documented():
    for probe_type in REGISTRY.values():
        for spec in (*probe_type.properties, *probe_type.outputs):
            assert spec.help.strip(), f"{probe_type.kind}.{spec.name} has no help text"
