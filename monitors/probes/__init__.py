"""Registry of monitor types: kind -> ProbeType. Add a type by declaring it in its module and
listing it here; the model's kinds (``Monitor.Kind``), the labels and the new-monitor templates
are all read from these declarations."""

from __future__ import annotations

from monitors.probes import (
    dns,
    http,
    ping,
    portscan,
    prom_scrape,
    prometheus,
    push,
    ssh,
    tcp,
    tls,
    traceroute,
)
from monitors.probes.base import MonitorTemplate, ProbeType

REGISTRY: dict[str, ProbeType] = {
    probe.kind: probe
    for probe in (
        http.PROBE,
        tcp.PROBE,
        ping.PROBE,
        dns.PROBE,
        tls.PROBE,
        prometheus.PROBE,
        prom_scrape.PROBE,
        push.PROBE,
        ssh.PROBE,
        portscan.PROBE,
        traceroute.PROBE,
    )
}


def get_probe_type(kind: str) -> ProbeType:
    """The declaration for ``kind``; ``KeyError`` when the kind is unknown."""
    return REGISTRY[kind]


def remembers(kind: str) -> bool:
    """Whether monitors of ``kind`` carry a memory from run to run (``ProbeType.remembers``)."""
    probe = REGISTRY.get(kind)
    return probe is not None and probe.remembers


def is_passive(kind: str) -> bool:
    """Whether monitors of ``kind`` are never probed but report in (push)."""
    probe = REGISTRY.get(kind)
    return probe is not None and probe.passive is not None


def kind_choices() -> list[tuple[str, str]]:
    """(kind, short label) of every type, in registry order: ``Monitor.Kind``'s choices."""
    return [(kind, probe.short_label) for kind, probe in REGISTRY.items()]


def monitor_templates() -> dict[str, MonitorTemplate]:
    """The new-monitor starting point of every type, in registry order."""
    return {kind: probe.template for kind, probe in REGISTRY.items()}


def _units_by_output() -> dict[str, str]:
    """Output name → unit, the first declaration of each name (a run's outputs name no kind)."""
    units: dict[str, str] = {}
    for probe in REGISTRY.values():
        for spec in probe.outputs:
            units.setdefault(spec.name, spec.unit)
    return units


_UNITS = _units_by_output()


def output_unit(name: str, kind: str | None = None) -> str:
    """The declared unit of output ``name`` (``respTime`` → ``ms``), of type ``kind`` when
    given, else of the first type declaring that name; ``""`` when it has none."""
    probe = REGISTRY.get(kind) if kind else None
    if probe is not None:
        spec = probe.output(name)
        return spec.unit if spec is not None else ""
    return _UNITS.get(name, "")


def value_unit(kind: str | None = None) -> str:
    """The unit of a run's value (``ms`` for every type today)."""
    probe = REGISTRY.get(kind) if kind else None
    return probe.value_unit if probe is not None else "ms"
