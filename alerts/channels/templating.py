"""Message templates of a channel: ``${name}`` placeholders, nothing else.

A channel may set a subject template and a body template (config ``subject_template`` and
``body_template``, declared for every kind by ``TEMPLATE_FIELDS``); they apply to each of its
messages (down, reminder, up, test) and fall back to NanoMon's own texts when blank.

Why ``${name}`` and not Django's template language: a template is written by a channel's
editor and rendered by the worker with the event's data. Django templates resolve dotted
attributes and call methods on whatever the context holds, loop (``{% for %}`` nested over a
long string grows without a useful bound), load tag libraries and include files; every one of
those is a hole to close and a limit to prove. Here the language has no attribute access, no
loops, no conditionals, no includes and no code: a placeholder is replaced by one of the
fixed, already formatted strings of ``template_values`` (plain text, each cut to
``MAX_VALUE``) in one left-to-right pass (a value is never read again as a template), so the
time is linear in the template's length and the output is cut to ``MAX_SUBJECT`` /
``MAX_BODY``. Event-specific words come from the values (``${headline}``, ``${summary}``,
``${state}``, ``${duration}``…). Templates are checked when the channel is saved: an unknown
name, a malformed ``${``, or Django syntax (``{{ … }}``, ``{% … %}``) is refused with a
message saying why. ``$${`` writes a literal ``${``; a ``$`` elsewhere is just a ``$``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC

from alerts.channels.base import AlertMessage, ConfigField

MAX_SUBJECT_TEMPLATE = 500
MAX_BODY_TEMPLATE = 5000
MAX_VALUE = 1000
MAX_SUBJECT = 250
MAX_BODY = 20000

FIELDS: dict[str, str] = {
    "name": "the monitor's name",
    "target": "its target (credentials masked)",
    "kind": "its type (http, ping, …)",
    "interval": "its interval",
    "rule": "its rule",
    "event": "down, reminder, up or test",
    "state": "down (down and reminder), up or test",
    "status": "what the run was: OK, Error or Failed (down, reminder)",
    "message": "the run's message (the reason)",
    "value": "the run's value with its unit: 12.5 ms",
    "outputs": "the outputs the rule used: respTime=12.5 status=200",
    "failures": "failed runs in a row",
    "reminder": "the reminder's number (0 if not a reminder)",
    "since": "when the outage started (reminder, up)",
    "duration": "how long the outage lasted (up)",
    "time": "when it happened: 2026-11-21 12:00:00 UTC",
    "timestamp": "the same in Unix seconds",
    "link": "the monitor's page",
    "acknowledge_link": "the page to acknowledge the alert (down, reminder)",
    "id": "the monitor's id",
    "properties": "its settings, secrets masked: timeout=5s, method=GET",
    "headline": "NanoMon's subject for the event",
    "summary": "NanoMon's one-sentence text for the event",
}

_TOKEN = re.compile(r"\$\$\{|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]{0,40})\}|\$\{")
_DJANGO = re.compile(r"\{\{|\{%|\{#")


class TemplateError(ValueError):
    """A template that cannot be used; the text says why."""


def check_template(template: str, *, one_line: bool = False) -> None:
    """Raise ``TemplateError`` when ``template`` is not a valid message template."""
    limit = MAX_SUBJECT_TEMPLATE if one_line else MAX_BODY_TEMPLATE
    if len(template) > limit:
        raise TemplateError(f"at most {limit} characters")
    if one_line and any(char in template for char in "\r\n"):
        raise TemplateError("a subject is one line")
    django = _DJANGO.search(template)
    if django:
        raise TemplateError(
            f"{django.group()!r} is not template syntax here: write ${{name}} placeholders "
            "(nothing in a template is evaluated)"
        )
    for match in _TOKEN.finditer(template):
        text, name = match.group(), match.group("name")
        if text == "$${":
            continue
        if name is None:
            raise TemplateError(
                f"malformed placeholder at character {match.start() + 1}: write ${{name}} "
                "(or $${ for a literal ${)"
            )
        if name not in FIELDS:
            known = ", ".join(f"${{{known}}}" for known in FIELDS)
            raise TemplateError(f"unknown placeholder ${{{name}}}; known: {known}")


def render_template(template: str, values: Mapping[str, str], *, one_line: bool = False) -> str:
    """``template`` with each ``${name}`` replaced by ``values[name]``, in one pass, cut to
    the subject's or body's limit (a subject on one line). An unknown or malformed
    placeholder (a template stored before a check) stays as written."""
    limit = MAX_SUBJECT if one_line else MAX_BODY
    parts: list[str] = []
    size = 0
    position = 0
    for match in _TOKEN.finditer(template):
        name = match.group("name")
        if match.group() == "$${":
            replacement = "${"
        elif name is not None and name in values:
            replacement = values[name]
        else:
            replacement = match.group()
        for piece in (template[position : match.start()], replacement):
            parts.append(piece)
            size += len(piece)
        position = match.end()
        if size > limit:
            break
    else:
        parts.append(template[position:])
    text = "".join(parts)
    if one_line:
        text = " ".join(text.split())
    return text[:limit]


def template_values(message: AlertMessage) -> dict[str, str]:
    """Every placeholder's text for ``message``: plain strings, each at most ``MAX_VALUE``."""
    down = message.state == "down"
    values = {
        "name": message.monitor_name,
        "target": message.target,
        "kind": message.kind,
        "interval": message.interval,
        "rule": message.rule,
        "event": message.event,
        "state": message.state,
        "status": message.status_text,
        "message": message.reason,
        "value": message.value_text,
        "outputs": " ".join(f"{name}={value}" for name, value in message.rule_outputs.items()),
        "failures": str(message.failures),
        "reminder": str(message.reminder_number),
        "since": message.outage_started_at_text,
        "duration": message.outage_duration_text,
        "time": message.happened_at_text,
        "timestamp": str(int(message.happened_at.astimezone(UTC).timestamp())),
        "link": message.link,
        "acknowledge_link": f"{message.link}/acknowledge" if down and message.monitor_id else "",
        "id": "" if message.monitor_id is None else str(message.monitor_id),
        "properties": ", ".join(f"{name}={value}" for name, value in message.properties.items()),
        "headline": message.subject,
        "summary": message.summary,
    }
    return {name: str(value)[:MAX_VALUE] for name, value in values.items()}


def _checked(one_line: bool):
    def check(value: object) -> None:
        check_template(str(value), one_line=one_line)

    return check


TEMPLATE_FIELDS = (
    ConfigField(
        "subject_template",
        "Subject template",
        "text",
        help="Optional; e.g. [${state}] ${name}: ${message}. Blank: NanoMon's subject. "
        "Placeholders: docs/alerting.md (Message templates).",
        check=_checked(one_line=True),
    ),
    ConfigField(
        "body_template",
        "Message template",
        "template",
        help="Optional; e.g. ${summary} Seen: ${status} ${value} ${outputs}. ${link}. "
        "Blank: NanoMon's message. Used for down, reminder, up and test.",
        check=_checked(one_line=False),
    ),
)


def custom_subject(config: Mapping[str, object], message: AlertMessage) -> str | None:
    """The channel's subject for ``message`` from its template; None without one."""
    template = str(config.get("subject_template") or "")
    if not template.strip():
        return None
    return render_template(template, template_values(message), one_line=True)


def custom_body(config: Mapping[str, object], message: AlertMessage) -> str | None:
    """The channel's body for ``message`` from its template; None without one."""
    template = str(config.get("body_template") or "")
    if not template.strip():
        return None
    return render_template(template, template_values(message))
