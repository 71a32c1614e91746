"""What a channel's messages look like: a sample event rendered as the channel would send it
(its message templates, or NanoMon's texts without them): ``POST /api/channels/{id}/preview``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError

from alerts.channels.apprise import apprise_texts
from alerts.channels.base import AlertMessage
from alerts.channels.email import mail_texts
from alerts.channels.templating import TEMPLATE_FIELDS, TemplateError
from alerts.channels.webhook import webhook_texts
from alerts.messages import monitor_link, test_message
from alerts.models import Channel

EVENTS = ("down", "reminder", "up", "test")

_TEXTS: dict[str, Callable[[Mapping[str, object], AlertMessage], tuple[str, ...]]] = {
    "email": lambda config, message: mail_texts(config, message)[:2],
    "webhook": webhook_texts,
    "apprise": apprise_texts,
}


def sample_message(event: str, *, now: datetime) -> AlertMessage:
    """A made-up event of kind ``event`` for an HTTP monitor "Example shop" (id 1)."""
    if event == "test":
        return test_message(0, now=now)
    started = now - timedelta(minutes=12, seconds=30)
    down = event != "up"
    return AlertMessage(
        event=event,
        notification_id=0,
        monitor_id=1,
        monitor_name="Example shop",
        kind="http",
        target="https://shop.example.com/health",
        interval="30s",
        rule="status == 200 && respTime < 500",
        properties={"method": "GET", "timeout": "5s"},
        failures=3 if down else 0,
        reason="Rule violated: status == 200" if down else "",
        happened_at=now,
        value=812.5 if down else 95.25,
        link=monitor_link(1),
        reminder_number=2 if event == "reminder" else 0,
        outage_started_at=started if event != "down" else None,
        status_text="Error" if down else "",
        rule_outputs={"respTime": 812.5, "status": 503} if down else {},
        outage_duration_text="12 min 30 s" if event == "up" else "",
    )


def channel_preview(
    channel: Channel,
    event: str,
    *,
    now: datetime,
    templates: Mapping[str, str] | None = None,
) -> tuple[str, str]:
    """(subject, body) of a sample ``event`` on ``channel``: its stored templates, or the
    ``templates`` given (``subject_template`` / ``body_template``, checked: a bad one raises
    ``ValidationError`` keyed by its name). The body is the text part of a mail, Apprise's
    body, or a webhook's ``{MESSAGE}`` (the default payload's ``text``)."""
    config = {} if channel.builtin else dict(channel.config or {})  # no secret is opened
    errors: dict[str, str] = {}
    for spec in TEMPLATE_FIELDS:
        if templates is None or spec.name not in templates:
            continue
        value = templates[spec.name]
        try:
            if value and spec.check is not None:
                spec.check(value)
        except TemplateError as error:
            errors[spec.name] = str(error)
        config[spec.name] = value
    if errors:
        raise ValidationError(errors)
    texts = _TEXTS.get(channel.kind)
    message = sample_message(event, now=now)
    if texts is None:
        return message.subject, message.summary
    subject, body = texts(config, message)[:2]
    return subject, body
