"""What a notification says: an ``AlertMessage`` built from its outbox row, at send time."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings

from alerts.channels.base import AlertMessage
from alerts.history import duration_text
from alerts.models import AlertLevel, Notification, Transition
from lib.status import Status
from monitors.rules import compile_rule
from monitors.rules.errors import RuleError
from monitors.secrets import masked_properties, masked_target
from results.models import MonitorState, Result


def rule_outputs(rule: str, outputs: object) -> dict[str, object]:
    """The outputs ``rule`` reads (by name, in the rule's order of names), from a run's
    ``outputs``: what the rule was checked on. Empty without a rule or outputs."""
    if not rule or not isinstance(outputs, dict):
        return {}
    try:
        names = compile_rule(rule).variables
    except RuleError:
        return {}
    return {name: outputs[name] for name in sorted(names) if name in outputs}


def status_text(status: int | None) -> str:
    """``OK``, ``Error`` or ``Failed`` (empty when unknown)."""
    return Status(status).label if status is not None else ""


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
            status_text=status_text(state.last_status if state else None),
            rule_outputs=rule_outputs(monitor.rule, state.last_outputs if state else None),
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
    seen: dict[str, object] = {}
    if transition.to_state == AlertLevel.DOWN and transition.result_id is not None:
        run = Result.objects.filter(pk=transition.result_id).values("status", "outputs").first()
        if run is not None:  # retention may have dropped it
            seen = {
                "status_text": status_text(run["status"]),
                "rule_outputs": rule_outputs(monitor.rule, run["outputs"]),
            }
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
        if went_down is not None:
            lasted = (transition.happened_at - went_down).total_seconds()
            seen["outage_duration_text"] = duration_text(max(0.0, lasted))
    return AlertMessage(
        **common,
        **seen,
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
