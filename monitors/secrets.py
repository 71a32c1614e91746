"""Masking of secret properties (e.g. an Authorization header) for people who may not change
a monitor, and for every place that must never show them in full (logs, alerts, exports for
viewers). Which properties are secret is declared by each probe type (``PropertySpec.secret``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from monitors.probes import REGISTRY

MASK = "••••••"


def _mask_value(value: str) -> str:
    """Mask a secret value; a JSON object keeps its keys (header names) and loses its values."""
    try:
        parsed = json.loads(value)
    except (TypeError, ValueError):
        return MASK
    if isinstance(parsed, dict):
        return json.dumps(dict.fromkeys(parsed, MASK), ensure_ascii=False)
    return MASK


def masked_properties(kind: str, properties: Mapping[str, object] | None) -> dict[str, object]:
    """A copy of ``properties`` with every secret property of ``kind`` masked."""
    properties = dict(properties or {})
    probe_type = REGISTRY.get(kind)
    if probe_type is None:
        return properties
    for spec in probe_type.properties:
        value = properties.get(spec.name)
        if spec.secret and isinstance(value, str) and value:
            properties[spec.name] = _mask_value(value)
    return properties
