"""Alert history retention (ALERT_HISTORY_RETENTION): old transitions, finished notifications and
their delivery attempts go in batches; what the state machine or an open outage needs stays.

Runs go through ``batch_record`` (real clock), so "old" means: retention run with ``now`` far
after ``clock``."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db.models import F

from alerts.models import AlertState, DeliveryAttempt, Notification, Transition
from alerts.retention import alert_history_retention

pytestmark = pytest.mark.django_db

RETENTION = 400 * 86400
SENT = Notification.Status.SENT


def attempt(notification: Notification, when) -> DeliveryAttempt:
    return DeliveryAttempt.objects.create(
        notification=notification,
        channel=notification.channel,
        number=1,
        started_at=when,
        finished_at=when,
        succeeded=True,
    )


def history(monitor) -> list[tuple[str, str]]:
    return list(
        Transition.objects.filter(monitor=monitor)
        .order_by("state_version")
        .values_list("from_state", "to_state")
    )


@pytest.fixture
def outages(make_monitor, record, webhook_channel, clock):
    """closed: two outages, both over; open: down now; undelivered: an old outage whose down
    notification is still pending. Every other notification was sent; one old test message."""
    closed, open_, undelivered = (make_monitor(name=n) for n in ("closed", "open", "undelivered"))
    record(closed, "O FFF O FFF O")
    record(open_, "FFF")
    record(undelivered, "FFF O")
    Notification.objects.update(status=SENT, sent_at=clock)
    Notification.objects.filter(
        transition__monitor=undelivered, transition__to_state="down"
    ).update(status=Notification.Status.PENDING)
    down_of_open = AlertState.objects.get(monitor=open_).last_transition
    reminder = Notification.objects.create(
        channel=webhook_channel,
        transition=down_of_open,
        event=Notification.Event.REMINDER,
        sequence=1,
        status=SENT,
        created_at=clock,
    )
    test_message = Notification.objects.create(
        channel=webhook_channel, event=Notification.Event.TEST, status=SENT, created_at=clock
    )
    first_down = Notification.objects.filter(transition__monitor=closed).order_by("id").first()
    attempts = {
        "closed": attempt(first_down, clock),
        "open": attempt(reminder, clock),
    }
    return {
        "closed": closed,
        "open": open_,
        "undelivered": undelivered,
        "test_message": test_message,
        "attempts": attempts,
    }


def test_nothing_goes_while_younger_than_the_retention(outages, clock):
    before = (Transition.objects.count(), Notification.objects.count())

    report = alert_history_retention(now=clock, retention_seconds=RETENTION)

    assert (report.transitions, report.notifications, report.attempts) == (0, 0, 0)
    assert (Transition.objects.count(), Notification.objects.count()) == before


def test_old_history_goes_but_open_outages_and_undelivered_notifications_stay(outages, clock):
    closed, open_, undelivered = outages["closed"], outages["open"], outages["undelivered"]
    assert len(history(closed)) == 5
    later = clock + timedelta(days=500)

    dry = alert_history_retention(now=later, retention_seconds=RETENTION, dry_run=True)
    assert Transition.objects.filter(monitor=closed).count() == 5  # a dry run changes nothing
    report = alert_history_retention(now=later, retention_seconds=RETENTION, batch_size=2)

    assert (dry.transitions, dry.notifications, dry.attempts) == (
        report.transitions,
        report.notifications,
        report.attempts,
    )
    # Closed outages: only the transition the state machine points at (the last recovery).
    assert history(closed) == [("down", "up")]
    last = AlertState.objects.get(monitor=closed).last_transition
    assert last is not None
    assert list(Notification.objects.filter(transition=last).values_list("event", flat=True)) == [
        "up"
    ]
    # The open outage: its down transition, its alert, its reminder and the reminder's attempt.
    assert history(open_) == [("unknown", "down")]
    assert Notification.objects.filter(transition__monitor=open_).count() == 2
    assert DeliveryAttempt.objects.filter(pk=outages["attempts"]["open"].pk).exists()
    # A notification still to deliver keeps itself and its (old, closed) transition.
    assert history(undelivered) == [("unknown", "down"), ("down", "up")]
    assert Notification.objects.filter(
        transition__monitor=undelivered, status=Notification.Status.PENDING
    ).exists()
    # Gone: the closed outages' earlier transitions with their notifications and attempts, the
    # old test message.
    assert report.transitions == 4
    assert report.notifications == 4  # 3 of the closed monitor, the test message
    assert report.attempts == 1
    assert not DeliveryAttempt.objects.filter(pk=outages["attempts"]["closed"].pk).exists()
    assert not Notification.objects.filter(pk=outages["test_message"].pk).exists()
    # The state machine carries on: the open outage recovers with a notification.
    assert AlertState.objects.get(monitor=open_).state == "down"


def test_zero_keeps_the_history_for_ever(outages, clock):
    report = alert_history_retention(now=clock + timedelta(days=5000), retention_seconds=0)

    assert report.cutoff is None
    assert report.transitions == 0
    assert Transition.objects.count() == 8


def test_the_command_prints_what_it_would_delete(outages, settings, capsys):
    settings.ALERT_HISTORY_RETENTION_SECONDS = 86400.0
    Transition.objects.update(happened_at=F("happened_at") - timedelta(days=2))
    Notification.objects.update(created_at=F("created_at") - timedelta(days=2))

    call_command("alert_history_retention", "--dry-run")

    out = capsys.readouterr().out
    assert "would delete 4 transitions, 4 notifications, 1 delivery attempts" in out
    assert Transition.objects.count() == 8
