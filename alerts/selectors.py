"""Alerting reads, for the admin, the API and the dashboard. Nothing here returns a secret:
channel configs come out masked (``channel_public_config``), errors are already scrubbed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Q, QuerySet

from alerts.channels import get_transport
from alerts.channels.email import EmailTransport
from alerts.models import AlertState, Channel, DeliveryAttempt, Notification, Transition
from results.models import Result

# --- The built-in channel (ALERT_SMTP_* variables) ---------------------------------------------


def settings_channel_configured() -> bool:
    """Whether ``ALERT_SMTP_*`` configure the built-in email channel (a From and a To).

    NanoMon also required ``ALERT_SMTP_PASSWORD``; here a relay without AUTH works too.
    """
    return bool(settings.ALERT_SMTP_HOST and settings.ALERT_SMTP_FROM and settings.ALERT_SMTP_TO)


def settings_email_config() -> dict[str, object]:
    """The built-in channel's config, from the settings (secrets included: internal use)."""
    return {
        "host": settings.ALERT_SMTP_HOST,
        "port": settings.ALERT_SMTP_PORT,
        "security": settings.ALERT_SMTP_SECURITY,
        "verify_tls": settings.ALERT_SMTP_VERIFY_TLS,
        "username": settings.ALERT_SMTP_USERNAME,
        "password": settings.ALERT_SMTP_PASSWORD,
        "from_address": settings.ALERT_SMTP_FROM,
        "recipients": list(settings.ALERT_SMTP_TO),
    }


# --- Channels ----------------------------------------------------------------------------------


def default_channel_ids() -> list[int]:
    """Channels notified by monitors without a selection of their own: enabled defaults (the
    built-in one only while ``ALERT_SMTP_*`` configure it)."""
    channels = Channel.objects.filter(enabled=True, is_default=True)
    if not settings_channel_configured():
        channels = channels.exclude(builtin=Channel.BUILTIN_SETTINGS_EMAIL)
    return list(channels.values_list("pk", flat=True))


def routing_channels(*, defaults: bool) -> list[tuple[int, bool, list[str]]]:
    """``(id, is_default, tags)`` of the enabled channels that are tagged, and of the enabled
    defaults too when ``defaults``, in one query (the built-in one only while ``ALERT_SMTP_*``
    configure it): what ``alerts.outbox.channel_ids_by_monitor`` routes by."""
    wanted = ~Q(tags=[])
    if defaults:
        wanted |= Q(is_default=True)
    channels = Channel.objects.filter(wanted, enabled=True)
    if not settings_channel_configured():
        channels = channels.exclude(builtin=Channel.BUILTIN_SETTINGS_EMAIL)
    return [
        (pk, is_default, list(tags or []))
        for pk, is_default, tags in channels.values_list("pk", "is_default", "tags")
    ]


def monitor_tag_channels(tags: list[str] | None) -> list[Channel]:
    """The enabled channels that monitors with ``tags`` also notify (a channel with any of
    them), as ``alerts.outbox.channel_ids_by_monitor`` routes them: one query, none without
    tags."""
    if not tags:
        return []
    wanted = set(tags)
    channels = Channel.objects.filter(enabled=True).exclude(tags=[])
    if not settings_channel_configured():
        channels = channels.exclude(builtin=Channel.BUILTIN_SETTINGS_EMAIL)
    return [channel for channel in channels if wanted.intersection(channel.tags or ())]


def channel_public_config(channel: Channel) -> dict[str, object]:
    """The channel's config with every secret masked: what any page, API or export shows."""
    if channel.builtin == Channel.BUILTIN_SETTINGS_EMAIL:
        return EmailTransport.mask_config(settings_email_config())
    try:
        transport = get_transport(channel.kind)
    except KeyError:
        return {}
    return transport.mask_config(channel.config or {})


def channel_summary(channel: Channel) -> str:
    """One line describing where the channel sends (no secret), for lists."""
    if channel.builtin == Channel.BUILTIN_SETTINGS_EMAIL:
        if not settings_channel_configured():
            return "not configured: set ALERT_SMTP_FROM and ALERT_SMTP_TO"
        return "from ALERT_SMTP_*: " + EmailTransport.summary(settings_email_config())
    try:
        transport = get_transport(channel.kind)
        return transport.summary(transport.mask_config(channel.config or {}))
    except KeyError:
        return f"unknown kind {channel.kind!r}"


@dataclass(frozen=True)
class ChannelHealth:
    """``state``: ``ok`` (last attempt succeeded), ``failing`` (last attempts failed), or
    ``unused`` (never tried)."""

    state: str
    failures_in_row: int
    last_error: str
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    last_failure_at: datetime | None


def channel_health(channel: Channel) -> ChannelHealth:
    if channel.failures_in_row:
        state = "failing"
    elif channel.last_attempt_at:
        state = "ok"
    else:
        state = "unused"
    return ChannelHealth(
        state=state,
        failures_in_row=channel.failures_in_row,
        last_error=channel.last_error,
        last_attempt_at=channel.last_attempt_at,
        last_success_at=channel.last_success_at,
        last_failure_at=channel.last_failure_at,
    )


def channels_failing() -> QuerySet[Channel]:
    """Channels whose latest delivery attempts failed, the longest failing first (for a
    dashboard banner: "2 channels are failing")."""
    return Channel.objects.filter(failures_in_row__gt=0).order_by("-failures_in_row", "name")


def channel_attempts(channel: Channel, *, limit: int = 50) -> list[DeliveryAttempt]:
    """The channel's latest delivery attempts, newest first."""
    return list(
        DeliveryAttempt.objects.filter(channel=channel).select_related("notification")[:limit]
    )


# --- Monitors ----------------------------------------------------------------------------------


def monitor_alert_state(monitor_id: int) -> AlertState | None:
    """Where the monitor stands for alerting (None: no run decided it yet, i.e. unknown)."""
    return AlertState.objects.filter(monitor_id=monitor_id).first()


def monitor_transitions(monitor_id: int, *, limit: int = 50) -> list[Transition]:
    """The monitor's alert history, newest first."""
    return list(Transition.objects.filter(monitor_id=monitor_id)[:limit])


def notifications_recent(*, limit: int = 100) -> list[Notification]:
    """The latest notifications across channels, newest first."""
    return list(Notification.objects.select_related("channel", "transition")[:limit])


def notifications_due(
    *, due_before: datetime, lease_expired_before: datetime, limit: int = 1000
) -> list[int]:
    """Ids of notifications to (re)queue: pending and due, or claimed by a worker whose lease
    has expired (it died or hung), oldest first."""
    return list(
        Notification.objects.filter(
            Q(status=Notification.Status.PENDING, next_attempt_at__lte=due_before)
            | Q(status=Notification.Status.SENDING, lease_until__lt=lease_expired_before)
        )
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )


def transition_result(transition: Transition) -> Result | None:
    """The result that caused a transition, or None when there was none or retention dropped
    it (no database constraint keeps it: results are partitioned by day and dropped whole)."""
    if transition.result_id is None:
        return None
    return Result.objects.filter(pk=transition.result_id).first()
