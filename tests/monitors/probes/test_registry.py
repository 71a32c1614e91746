"""The probe registry (monitors.probes) is the one list of monitor types: the model's kinds,
their labels and the new-monitor templates are read from it."""

from __future__ import annotations

from dataclasses import replace

from monitors.models import Monitor
from monitors.probes import REGISTRY, kind_choices, monitor_templates


def test_the_models_kinds_are_the_registrys():
    assert Monitor.Kind.values == list(REGISTRY)
    assert Monitor.Kind.choices == kind_choices()
    assert Monitor.Kind.HTTP == "http"
    assert Monitor.Kind.PING.label == REGISTRY["ping"].short_label == "Ping"


def test_every_type_declares_a_template_with_a_target_it_accepts():
    templates = monitor_templates()

    assert list(templates) == list(REGISTRY)
    for kind, template in templates.items():
        REGISTRY[kind].check_target(template["target"])  # raises ValueError when refused
        assert template["rule"]
        assert template["rule_examples"]


def test_a_new_registry_entry_brings_its_kind_label_and_template(monkeypatch):
    template = {**REGISTRY["tcp"].template, "title": "Gopher server", "name": "My gopher"}
    gopher = replace(
        REGISTRY["tcp"], kind="gopher", label="Gopher", short_label="Gopher", template=template
    )
    monkeypatch.setitem(REGISTRY, "gopher", gopher)

    assert kind_choices()[-1] == ("gopher", "Gopher")
    assert monitor_templates()["gopher"]["title"] == "Gopher server"
