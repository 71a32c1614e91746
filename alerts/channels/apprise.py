"""Apprise: one channel, one or more Apprise URLs (Slack, Discord, Telegram, Teams, ntfy,
PagerDuty, json://, form://, …). See https://github.com/caronc/apprise/wiki for the schemas.

Every URL counts: the delivery succeeds only when Apprise reports success for all of them.
Apprise's own per-service timeouts apply (``cto``/``rto`` URL parameters, 4 s by default),
and the whole call is bounded by three times the delivery timeout (Apprise's ``timeout``).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping

import apprise

from alerts.channels.base import AlertMessage, ConfigField, DeliveryError, Transport, scrub
from alerts.channels.templating import TEMPLATE_FIELDS, custom_body, custom_subject

NOTIFY_TYPES = {
    "down": apprise.NotifyType.FAILURE,
    "reminder": apprise.NotifyType.WARNING,
    "up": apprise.NotifyType.SUCCESS,
}
_ACCEPTS_TIMEOUT = "timeout" in inspect.signature(apprise.Apprise.notify).parameters


def _schema(url: str) -> str:
    return url.partition("://")[0] if "://" in url else "?"


class AppriseTransport(Transport):
    kind = "apprise"
    label = "Apprise"
    fields = (
        ConfigField(
            "urls",
            "Apprise URLs",
            "list",
            required=True,
            secret=True,
            help="One per line, e.g. slack://…, discord://…, tgram://…, ntfy://…",
        ),
        *TEMPLATE_FIELDS,
    )

    @classmethod
    def check_config(cls, config: Mapping[str, object]) -> dict[str, str]:
        bad = [
            f"URL {number} ({_schema(url)}://…)"
            for number, url in enumerate(config.get("urls") or [], start=1)
            if apprise.Apprise.instantiate(url) is None
        ]
        if bad:
            return {"urls": f"not a valid Apprise URL: {', '.join(bad)}"}
        return {}

    @classmethod
    def summary(cls, config: Mapping[str, object]) -> str:
        schemas = sorted({_schema(str(url)) for url in config.get("urls") or []})
        return ", ".join(f"{schema}://" for schema in schemas) or "no URLs"

    def send(self, message: AlertMessage, *, timeout: float) -> None:
        urls = [str(url) for url in self.config.get("urls") or []]
        notifier = apprise.Apprise()
        for number, url in enumerate(urls, start=1):
            if not notifier.add(url):
                raise DeliveryError(f"URL {number} ({_schema(url)}://…) is not a valid Apprise URL")
        options = {"timeout": timeout * 3} if _ACCEPTS_TIMEOUT else {}
        title, body = apprise_texts(self.config, message)
        result = notifier.notify(
            body=body,
            title=title,
            notify_type=NOTIFY_TYPES.get(message.event, apprise.NotifyType.INFO),
            **options,
        )
        if result:
            return
        raise DeliveryError(scrub(_describe_failure(result, len(urls)), urls))


def apprise_texts(config: Mapping[str, object], message: AlertMessage) -> tuple[str, str]:
    """Title and body for ``message``: the channel's templates where set, else NanoMon's
    subject and its one sentence with the monitor's link."""
    title = custom_subject(config, message) or message.subject
    body = custom_body(config, message)
    if body is None:
        body = message.summary + (f"\n{message.link}" if message.link else "")
    return title, body


def _describe_failure(result: object, count: int) -> str:
    """What Apprise says went wrong, briefly (its structured result when it has one)."""
    status = getattr(getattr(result, "status", None), "name", "FAILURE")
    failed = getattr(result, "failed_count", None)
    text = f"Apprise reported {status}"
    if failed is not None:
        text += f" for {failed} of {count} URL(s)"
    logs = getattr(result, "logs", None)
    if callable(logs):
        problems = [
            entry.message for entry in logs() if getattr(entry, "level", "") in {"ERROR", "WARNING"}
        ]
        if problems:
            text += ": " + "; ".join(problems[-2:])
    return text[:500]
