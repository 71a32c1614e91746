"""The channel registry (alerts.channels) is the one list of channel kinds: the model's kinds
and their labels are read from it."""

from __future__ import annotations

from alerts.channels import REGISTRY, Transport, kind_choices
from alerts.models import Channel


def test_the_models_kinds_are_the_registrys():
    assert Channel.Kind.values == list(REGISTRY)
    assert Channel.Kind.choices == kind_choices()
    assert Channel.Kind.EMAIL == "email"
    assert Channel.Kind.EMAIL.label == REGISTRY["email"].label == "Email (SMTP)"


def test_a_new_registry_entry_brings_its_kind_and_label(monkeypatch):
    class PagerTransport(Transport):
        kind = "pager"
        label = "Pager"
        fields = ()

    monkeypatch.setitem(REGISTRY, "pager", PagerTransport)

    assert kind_choices()[-1] == ("pager", "Pager")
