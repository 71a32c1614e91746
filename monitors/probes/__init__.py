"""Registry of monitor types: kind -> ProbeType. Add a type by declaring it in its module and
listing it here; the model's kinds (``Monitor.Kind``), the labels and the new-monitor templates
are all read from these declarations."""

from __future__ import annotations

from monitors.probes import dns, http, ping, tcp
from monitors.probes.base import MonitorTemplate, ProbeType

REGISTRY: dict[str, ProbeType] = {
    probe.kind: probe for probe in (http.PROBE, tcp.PROBE, ping.PROBE, dns.PROBE)
}


def get_probe_type(kind: str) -> ProbeType:
    """The declaration for ``kind``; ``KeyError`` when the kind is unknown."""
    return REGISTRY[kind]


def kind_choices() -> list[tuple[str, str]]:
    """(kind, short label) of every type, in registry order: ``Monitor.Kind``'s choices."""
    return [(kind, probe.short_label) for kind, probe in REGISTRY.items()]


def monitor_templates() -> dict[str, MonitorTemplate]:
    """The new-monitor starting point of every type, in registry order."""
    return {kind: probe.template for kind, probe in REGISTRY.items()}
