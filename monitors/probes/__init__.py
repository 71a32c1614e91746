"""Registry of monitor types: kind -> ProbeType. Add a type by declaring it in its module."""

from __future__ import annotations

from monitors.probes import dns, http, ping, tcp
from monitors.probes.base import ProbeType

REGISTRY: dict[str, ProbeType] = {
    probe.kind: probe for probe in (http.PROBE, tcp.PROBE, ping.PROBE, dns.PROBE)
}


def get_probe_type(kind: str) -> ProbeType:
    """The declaration for ``kind``; ``KeyError`` when the kind is unknown."""
    return REGISTRY[kind]
