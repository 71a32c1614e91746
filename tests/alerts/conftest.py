"""Alerting fixtures: known ALERT_* settings, a way to record runs through ``batch_record``,
and channels pointing at local receivers.

Times: ``batch_record`` stamps transitions and outbox rows with the real clock, so these
tests reason relative to ``clock`` (the real time when the test started), never a fixed date.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from alerts.configuration import channel_create
from alerts.models import AlertLevel, AlertState, Channel, Notification
from loop.batches import batch_record
from monitors.engine import CheckResult, CheckStatus
from monitors.models import Monitor
from monitors.services import monitor_update
from nanomon.celery import app as celery_app
from results.services import RunRecord
from tests.support.receivers import WebhookReceiver
from tests.support.smtp_server import LocalSmtpServer

CODES = {"O": CheckStatus.OK, "E": CheckStatus.ERROR, "F": CheckStatus.FAILED}


@pytest.fixture(autouse=True)
def alert_settings(settings):
    """Defaults as documented, the built-in email channel off, short timeouts."""
    settings.ALERT_SMTP_HOST = "127.0.0.1"
    settings.ALERT_SMTP_PORT = 25
    settings.ALERT_SMTP_FROM = ""
    settings.ALERT_SMTP_USERNAME = ""
    settings.ALERT_SMTP_PASSWORD = ""
    settings.ALERT_SMTP_TO = []
    settings.ALERT_SMTP_SECURITY = "none"
    settings.ALERT_SMTP_VERIFY_TLS = True
    settings.ALERT_SMTP_CA_BUNDLE = ""
    settings.ALERT_FAIL_COUNT = 3
    settings.ALERT_RECOVER_COUNT = 1
    settings.ALERT_REMINDER_MINUTES = 0
    settings.ALERT_LINK_BASEURL = "https://nanomon.example.org"
    settings.ALERT_DELIVERY_TIMEOUT = 2.0
    settings.ALERT_DELIVERY_ATTEMPTS = 5
    settings.ALERT_RETRY_BASE_SECONDS = 30.0
    return settings


@pytest.fixture
def clock() -> datetime:
    return timezone.now()


def check(code: str, at: datetime) -> CheckResult:
    status = CODES[code]
    failed = status == CheckStatus.FAILED
    return CheckResult(
        status=status,
        value=0.0 if failed else 12.5,
        message={"O": "", "E": "Rule violated: status == 200", "F": "connection refused"}[code],
        outputs=None if failed else {"respTime": 12.5, "status": 200},
        stored_outputs=None if failed else {"respTime": 12.5, "status": 200},
        started_at=at,
        duration_seconds=0.0125,
    )


def update_monitor(monitor: Monitor) -> None:
    """An edit that changes nothing but goes through the service (it resets the streak)."""
    monitor_update(
        monitor, name=monitor.name, kind=monitor.kind, target=monitor.target,
        interval=monitor.interval, rule=monitor.rule, enabled=monitor.enabled,
        properties=monitor.properties,
    )  # fmt: skip


@pytest.fixture
def record(clock):
    """``record(monitor, "OEEF u O")``: store runs (O OK, E Error, F Failed) one by one through
    ``batch_record``, 30 s apart from ``start``; ``u`` updates the monitor; spaces are
    ignored. Returns the time after the last run."""

    def record(monitor: Monitor, sequence: str, *, start: datetime | None = None) -> datetime:
        moment = start or clock
        for code in sequence.replace(" ", ""):
            if code == "u":
                update_monitor(monitor)
                continue
            token = uuid.uuid4()
            Monitor.objects.filter(pk=monitor.pk).update(run_token=token)
            batch_record(
                token=token,
                runs=[
                    RunRecord(monitor.pk, monitor.name, monitor.target, moment, check(code, moment))
                ],
            )
            moment += timedelta(seconds=30)
        return moment

    return record


@pytest.fixture
def receiver():
    with WebhookReceiver() as running:
        yield running


@pytest.fixture
def webhook_channel(receiver):
    """A default GET webhook channel to the local receiver."""
    return channel_create(
        name="hook",
        kind="webhook",
        config={"url": receiver.url("/hook?host={HOST}&state={STATE}")},
    )


def email_channel(smtp: LocalSmtpServer, **config) -> Channel:
    """A default email channel to the local SMTP server (two recipients); ``config`` overrides."""
    return channel_create(
        name="mail",
        kind="email",
        config={
            "host": "127.0.0.1",
            "port": smtp.port,
            "security": smtp.security,
            "from_address": "NanoMon <nanomon@example.org>",
            "recipients": ["ops@example.org", "Dev Team <dev@example.org>"],
            **config,
        },
    )


@pytest.fixture
def eager_celery():
    """Tasks run in-process when queued (``apply_async`` runs them at once)."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def events(monitor: Monitor) -> list[str]:
    return list(
        Notification.objects.filter(transition__monitor=monitor)
        .order_by("id")
        .values_list("event", flat=True)
    )


def the_notification(monitor: Monitor, event: str = "down") -> Notification:
    return Notification.objects.get(transition__monitor=monitor, event=event)


def alert_state(monitor: Monitor) -> str:
    state = AlertState.objects.filter(monitor=monitor).first()
    return state.state if state else AlertLevel.UNKNOWN
