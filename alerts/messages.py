"""What a notification says: an ``AlertMessage`` built from its outbox row, at send time."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings

from alerts.channels.base import AlertMessage
from alerts.models import AlertLevel, Notification, Transition
from monitors.secrets import masked_properties, masked_target
from results.models import MonitorState


def monitor_link(monitor_id: int) -> str:
    """``ALERT_LINK_BASEURL`` + ``/monitors/<id>``: the dashboard's monitor page."""
    return f"{settings.ALERT_LINK_BASEURL.rstrip('/')}/monitors/{monitor_id}"


def message_for(notification: Notification, *, now: datetime) -> AlertMessage:
    """The message of ``notification`` (its transition and monitor loaded as needed).

    Down and up messages describe their transition (the monitor's name and target as they
    were); a reminder describes the outage as it stands now (current streak and reason).
    Secrets are never sent: properties and the target's credentials (user info, ``?token=``)
    are masked in every channel's message (email, webhook placeholders and payload, Apprise).
    """
    if notification.event == Notification.Event.TEST or notification.transition is None:
        return test_message(notification.pk, now=now)
    transition = notification.transition
    monitor = transition.monitor
    common = {
        "event": notification.event,
        "notification_id": notification.pk,
        "monitor_id": monitor.pk,
        "kind": monitor.kind,
        "interval": monitor.interval,
        "rule": monitor.rule,
        "properties": masked_properties(monitor.kind, monitor.properties),
        "link": monitor_link(monitor.pk),
    }
    if notification.event == Notification.Event.REMINDER:
        state = MonitorState.objects.filter(monitor=monitor).first()
        return AlertMessage(
            **common,
            monitor_name=monitor.name,
            target=masked_target(monitor.target),
            failures=state.consecutive_failures if state else transition.failures,
            reason=(state.last_message if state else "") or transition.reason,
            happened_at=notification.created_at,
            value=state.last_value if state else transition.value,
            reminder_number=notification.sequence,
            outage_started_at=transition.happened_at,
        )
    outage_started_at = None
    if transition.to_state == AlertLevel.UP:
        went_down = (
            Transition.objects.filter(
                monitor=monitor,
                to_state=AlertLevel.DOWN,
                state_version__lt=transition.state_version,
            )
            .order_by("-state_version")
            .values_list("happened_at", flat=True)
            .first()
        )
        outage_started_at = went_down
    return AlertMessage(
        **common,
        monitor_name=transition.monitor_name,
        target=masked_target(transition.monitor_target),
        failures=transition.failures,
        reason=transition.reason,
        happened_at=transition.happened_at,
        value=transition.value,
        outage_started_at=outage_started_at,
    )


def test_message(notification_id: int, *, now: datetime) -> AlertMessage:
    """A message that says only "this channel works"."""
    return AlertMessage(
        event=Notification.Event.TEST,
        notification_id=notification_id,
        monitor_id=None,
        monitor_name="NanoMon test",
        kind="",
        target="",
        interval="",
        rule="",
        properties={},
        failures=0,
        reason="This is a test notification from NanoMon.",
        happened_at=now,
        value=None,
        link=settings.ALERT_LINK_BASEURL,
    )
