"""Alerting's configuration: channels (the built-in email channel included) and each
monitor's alert policy. Every entry point (API, admin, pages) writes through here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import EllipsisType

from django.core.exceptions import ValidationError
from django.db import transaction

from alerts import selectors
from alerts.channels import get_transport
from alerts.models import Channel, MonitorAlertPolicy
from monitors.models import Monitor
from monitors.tags import tags_normalized


def builtin_channel_ensure() -> Channel:
    """The built-in email channel (settings from ``ALERT_SMTP_*``), created if missing.

    A data migration creates it; this re-creates it should the row ever be gone, so the
    environment variables alone always work, with no database setup.
    """
    channel, _ = Channel.objects.get_or_create(
        builtin=Channel.BUILTIN_SETTINGS_EMAIL,
        defaults={
            "name": "Email (ALERT_SMTP_* settings)",
            "kind": Channel.Kind.EMAIL,
            "enabled": True,
            "is_default": True,
        },
    )
    return channel


def channel_effective_config(channel: Channel) -> dict[str, object]:
    """The channel's full config, secrets included and opened (for the sender only, never
    shown): the ``ALERT_SMTP_*`` settings for the built-in channel, the stored config
    otherwise. Raises ``SecretsKeyError`` when no key opens a stored secret."""
    if channel.builtin == Channel.BUILTIN_SETTINGS_EMAIL:
        return selectors.settings_email_config()
    try:
        transport = get_transport(channel.kind)
    except KeyError:
        return dict(channel.config or {})
    return transport.opened_config(channel.config or {})


def channel_save(channel: Channel, *, config: Mapping[str, object] | None = None) -> Channel:
    """Validate and store a new or changed channel (every entry point goes through here).

    ``config`` is validated by the kind's transport (errors keyed by its field names, see
    ``alerts.channels``). A secret left out, blank or sent back masked keeps its stored value
    when the kind is unchanged. ``config=None`` keeps the stored config (re-validated). The
    built-in channel's kind and config come from the environment: only its name, enabled and
    default flags and its tags change. ``tags`` (``monitors.tags``: a list, or one string
    separated by commas or spaces) are stored normalized. Raises ``ValidationError`` and
    stores nothing.
    """
    try:
        channel.tags = tags_normalized(channel.tags)
    except ValueError as error:
        raise ValidationError({"tags": str(error)}) from None
    stored = (
        Channel.objects.filter(pk=channel.pk).values("kind", "config", "builtin").first()
        if channel.pk
        else None
    )
    if stored and stored["builtin"]:
        if channel.kind != stored["kind"] or config is not None:
            raise ValidationError(
                "This channel is configured by the ALERT_SMTP_* environment variables."
            )
        channel.builtin = stored["builtin"]
        channel.config = {}
    else:
        channel.builtin = None
        same_kind = stored is not None and stored["kind"] == channel.kind
        current = stored["config"] if same_kind else None
        raw = config if config is not None else (current or {})
        try:
            transport = get_transport(channel.kind)
        except KeyError:
            raise ValidationError({"kind": f"unknown channel kind {channel.kind!r}"}) from None
        channel.config = transport.clean_config(raw, current=current)
    channel.full_clean()
    channel.save()
    return channel


def channel_create(
    *,
    name: str,
    kind: str,
    config: Mapping[str, object],
    enabled: bool = True,
    is_default: bool = True,
    tags: Iterable[str] | str = (),
) -> Channel:
    """Create a channel (see ``channel_save``); ``tags``: monitors with any of them also
    notify it (``alerts.outbox``)."""
    channel = Channel(
        name=name,
        kind=kind,
        enabled=enabled,
        is_default=is_default,
        tags=tags if isinstance(tags, str) else list(tags),
    )
    return channel_save(channel, config=config)


def channel_update(
    channel: Channel,
    *,
    name: str | None = None,
    kind: str | None = None,
    enabled: bool | None = None,
    is_default: bool | None = None,
    config: Mapping[str, object] | None = None,
    tags: Iterable[str] | str | None = None,
) -> Channel:
    """Change the given fields of a channel (None: unchanged; see ``channel_save``)."""
    for field, value in (
        ("name", name),
        ("kind", kind),
        ("enabled", enabled),
        ("is_default", is_default),
        ("tags", tags if tags is None or isinstance(tags, str) else list(tags)),
    ):
        if value is not None:
            setattr(channel, field, value)
    return channel_save(channel, config=config)


def channel_delete(channel: Channel) -> None:
    """Delete a channel with its notifications; the built-in channel cannot be deleted
    (disable it, or leave ``ALERT_SMTP_*`` unset)."""
    if channel.builtin:
        raise ValidationError("The built-in channel cannot be deleted; disable it instead.")
    channel.delete()


def alert_policy_set(
    monitor: Monitor,
    *,
    fail_threshold: int | None = None,
    recover_threshold: int | None = None,
    reminder_minutes: int | None = None,
    muted: bool = False,
    use_default_channels: bool = True,
    channels: Iterable[Channel] = (),
    escalate_after_minutes: int | EllipsisType | None = ...,
    escalation_channels: Iterable[Channel] | None = None,
) -> MonitorAlertPolicy:
    """Set how ``monitor`` alerts (None: the default from the environment). Takes effect from
    the next run; an open outage stays open. ``escalate_after_minutes``: alert the
    ``escalation_channels`` too when an outage stays unacknowledged that long (None: never);
    left out (``...`` / None), the stored escalation is kept."""
    policy = MonitorAlertPolicy.objects.filter(monitor=monitor).first() or MonitorAlertPolicy(
        monitor=monitor
    )
    policy.fail_threshold = fail_threshold
    policy.recover_threshold = recover_threshold
    policy.reminder_minutes = reminder_minutes
    policy.muted = muted
    policy.use_default_channels = use_default_channels
    if escalate_after_minutes is not ...:
        policy.escalate_after_minutes = escalate_after_minutes
    policy.full_clean(exclude=["monitor"])
    with transaction.atomic():
        policy.save()
        policy.channels.set(list(channels))
        if escalation_channels is not None:
            policy.escalation_channels.set(list(escalation_channels))
    return policy
