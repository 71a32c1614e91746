"""Registry of channel kinds: kind -> Transport class. Add a kind by declaring it in its module
and listing it here; the model's kinds (``Channel.Kind``) are read from these declarations."""

from __future__ import annotations

from alerts.channels.apprise import AppriseTransport
from alerts.channels.base import AlertMessage, ConfigField, DeliveryError, Transport
from alerts.channels.email import EmailTransport
from alerts.channels.webhook import WebhookTransport

REGISTRY: dict[str, type[Transport]] = {
    transport.kind: transport for transport in (EmailTransport, WebhookTransport, AppriseTransport)
}


def get_transport(kind: str) -> type[Transport]:
    """The transport class for ``kind``; ``KeyError`` when the kind is unknown."""
    return REGISTRY[kind]


def kind_choices() -> list[tuple[str, str]]:
    """(kind, label) of every channel kind, in registry order: ``Channel.Kind``'s choices."""
    return [(kind, transport.label) for kind, transport in REGISTRY.items()]


__all__ = [
    "REGISTRY",
    "AlertMessage",
    "ConfigField",
    "DeliveryError",
    "Transport",
    "get_transport",
    "kind_choices",
]
