"""Maintenance windows: when they are active (one-off, weekly, monthly, cron, time zones), and
what they do to alerting: a DOWN inside a window is recorded but held, reminders wait, and the
sweeper releases the held alert when the window ends with the monitor still down. Mails go to a
real SMTP server on loopback; times are explicit ``now`` arguments, no sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from django.core.exceptions import ValidationError

from alerts.configuration import alert_policy_set
from alerts.delivery import notification_deliver
from alerts.maintenance import (
    monitor_maintenance,
    monitors_in_maintenance,
    runs_in_maintenance,
    window_save,
)
from alerts.models import AlertState, MaintenanceWindow, Notification, Transition
from alerts.sweep import alerts_sweep
from monitors.models import Monitor
from results.models import Result
from tests.alerts.conftest import alert_state, email_channel, events
from tests.support.smtp_server import LocalSmtpServer

UTC_NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday


def window(**fields) -> MaintenanceWindow:
    return MaintenanceWindow(name=fields.pop("name", "w"), **fields)


# --- when a window is active (no database) ------------------------------------------------------


def test_a_one_off_window_covers_its_start_but_not_its_end():
    w = window(starts_at=UTC_NOON, ends_at=UTC_NOON + timedelta(hours=1))

    assert not w.is_active(UTC_NOON - timedelta(seconds=1))
    assert w.is_active(UTC_NOON)
    assert w.occurrence_at(UTC_NOON + timedelta(minutes=59)) == (w.starts_at, w.ends_at)
    assert not w.is_active(UTC_NOON + timedelta(hours=1))


def test_a_weekly_window_is_read_in_its_time_zone():
    # Mondays and Wednesdays 02:00-03:30 in Berlin (UTC+1 in March before the change).
    w = window(
        schedule="weekly",
        weekdays=[1, 3],
        start_time=time(2, 0),
        duration_minutes=90,
        time_zone="Europe/Berlin",
    )
    monday_start = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)

    assert w.cron_expression() == "0 2 * * 1,3"
    assert not w.is_active(monday_start - timedelta(seconds=1))
    assert w.occurrence_at(monday_start + timedelta(minutes=89)) == (
        monday_start,
        monday_start + timedelta(minutes=90),
    )
    assert not w.is_active(monday_start + timedelta(minutes=90))
    assert not w.is_active(monday_start + timedelta(days=1))  # Tuesday
    assert w.is_active(monday_start + timedelta(days=2, minutes=5))  # Wednesday
    assert w.next_start(monday_start) == monday_start + timedelta(days=2)


def test_a_monthly_window_and_a_cron_window():
    monthly = window(
        schedule="monthly", days_of_month=[1, 15], start_time=time(23, 30), duration_minutes=60
    )
    assert monthly.cron_expression() == "30 23 1,15 * *"
    # It runs over midnight into the 16th.
    assert monthly.is_active(datetime(2026, 3, 16, 0, 15, tzinfo=UTC))
    assert not monthly.is_active(datetime(2026, 3, 16, 0, 30, tzinfo=UTC))

    cron = window(schedule="cron", cron="*/30 * * * *", duration_minutes=5, time_zone="UTC")
    assert cron.is_active(UTC_NOON + timedelta(minutes=34))
    assert not cron.is_active(UTC_NOON + timedelta(minutes=35))


def test_a_recurring_window_keeps_to_its_bounds():
    w = window(
        schedule="cron",
        cron="@daily",
        duration_minutes=120,
        starts_at=UTC_NOON,
        ends_at=UTC_NOON + timedelta(days=2),
    )

    assert not w.is_active(UTC_NOON - timedelta(hours=11))  # the day before: not yet
    tomorrow = datetime(2026, 3, 3, 0, 30, tzinfo=UTC)
    assert w.is_active(tomorrow)
    assert w.next_start(UTC_NOON) == tomorrow.replace(minute=0)
    assert w.next_start(datetime(2026, 3, 4, 0, 30, tzinfo=UTC)) is None  # after ends_at


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"starts_at": UTC_NOON}, "ends_at"),
        ({"starts_at": UTC_NOON, "ends_at": UTC_NOON}, "ends_at"),
        (
            {"schedule": "weekly", "weekdays": [0], "start_time": time(1), "duration_minutes": 5},
            "weekdays",
        ),
        ({"schedule": "monthly", "days_of_month": [1], "duration_minutes": 5}, "start_time"),
        ({"schedule": "cron", "cron": "61 * * * *", "duration_minutes": 5}, "cron"),
        ({"schedule": "cron", "cron": "@daily"}, "duration_minutes"),
        (
            {"starts_at": UTC_NOON, "ends_at": UTC_NOON + timedelta(1), "time_zone": "Mars/Base"},
            "time_zone",
        ),
    ],
)
def test_a_window_that_cannot_work_is_refused_naming_the_field(fields, field):
    with pytest.raises(ValidationError) as refused:
        window(**fields).clean()

    assert field in refused.value.message_dict


# --- alerting ----------------------------------------------------------------------------------


def covering(monitor, clock, *, hours: float = 1) -> MaintenanceWindow:
    """A one-off window covering ``monitor`` from an hour before ``clock`` for ``hours``."""
    w = MaintenanceWindow(
        name="upgrade",
        reason="database upgrade",
        starts_at=clock - timedelta(hours=1),
        ends_at=clock + timedelta(hours=hours),
    )
    window_save(w, monitors=[monitor.pk])
    return w


@pytest.mark.django_db
def test_which_monitors_a_window_covers(make_monitor, clock):
    chosen, other = make_monitor(name="chosen"), make_monitor(name="other")
    covering(chosen, clock)

    assert monitors_in_maintenance({chosen.pk, other.pk}, clock) == {chosen.pk}
    assert monitors_in_maintenance({chosen.pk}, clock + timedelta(hours=2)) == set()
    [(found, ends)] = monitor_maintenance(chosen.pk, clock)
    assert (found.name, ends) == ("upgrade", clock + timedelta(hours=1))

    window_save(MaintenanceWindow(name="all", starts_at=clock, ends_at=clock + timedelta(1),
                                  all_monitors=True))  # fmt: skip
    assert monitors_in_maintenance({chosen.pk, other.pk}, clock) == {chosen.pk, other.pk}


@pytest.mark.django_db
def test_a_window_covers_the_monitors_with_any_of_its_tags(make_monitor, clock, admin):
    tagged, both, other = (make_monitor(name=name) for name in ("tagged", "both", "other"))
    Monitor.objects.filter(pk=tagged.pk).update(tags=["db"])
    Monitor.objects.filter(pk=both.pk).update(tags=["db", "prod"])
    Monitor.objects.filter(pk=other.pk).update(tags=["prod-db"])
    window_save(MaintenanceWindow(name="db upgrade", starts_at=clock,
                                  ends_at=clock + timedelta(hours=1), tags=["db"]))  # fmt: skip
    everyone = {tagged.pk, both.pk, other.pk}
    assert monitors_in_maintenance(everyone, clock) == {tagged.pk, both.pk}
    # Through the API: tags are checked and kept sorted.
    body = {"name": "api", "schedule": "once", "starts_at": "2026-03-02T12:00:00Z",
            "ends_at": "2026-03-02T13:00:00Z", "tags": ["prod", "db", "prod"]}  # fmt: skip
    created = admin.post("/api/maintenance", body, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["tags"] == ["db", "prod"]
    refused = admin.post("/api/maintenance", {**body, "tags": ["not ok!"]}, format="json")
    assert refused.status_code == 400
    assert "tags" in refused.content.decode()


@pytest.mark.django_db
def test_a_down_inside_a_window_is_recorded_but_held_and_a_recovery_sends_nothing(
    make_monitor, record, clock, webhook_channel, receiver
):
    monitor = make_monitor()
    covering(monitor, clock)

    after = record(monitor, "FFF")

    assert alert_state(monitor) == "down"
    assert Transition.objects.filter(monitor=monitor, to_state="down").count() == 1
    assert AlertState.objects.get(monitor=monitor).held_at is not None
    assert events(monitor) == []
    assert Result.objects.filter(monitor=monitor).count() == 3  # runs still stored

    record(monitor, "O", start=after)
    assert alert_state(monitor) == "up"
    assert AlertState.objects.get(monitor=monitor).held_at is None
    assert events(monitor) == []
    assert alerts_sweep(now=clock + timedelta(hours=2)).released == []
    assert receiver.requests == []


@pytest.mark.django_db
def test_a_monitor_outside_the_window_alerts_as_usual(make_monitor, record, clock, webhook_channel):
    inside, outside = make_monitor(name="inside"), make_monitor(name="outside")
    covering(inside, clock)

    record(inside, "FFF")
    record(outside, "FFF")

    assert events(inside) == []
    assert events(outside) == ["down"]


@pytest.mark.django_db
def test_reminders_wait_while_a_window_covers_an_outage_already_alerted(
    make_monitor, record, clock, webhook_channel
):
    monitor = make_monitor()
    alert_policy_set(monitor, reminder_minutes=10)
    record(monitor, "FFF")
    down_at = AlertState.objects.get(monitor=monitor).changed_at
    notification_deliver(Notification.objects.get(transition__monitor=monitor).pk, now=down_at)
    window_save(
        MaintenanceWindow(name="later", starts_at=down_at + timedelta(minutes=5),
                          ends_at=down_at + timedelta(minutes=30)),
        monitors=[monitor.pk],
    )  # fmt: skip

    assert alerts_sweep(now=down_at + timedelta(minutes=20)).reminders == []
    assert len(alerts_sweep(now=down_at + timedelta(minutes=31)).reminders) == 1


@pytest.mark.django_db
def test_results_stored_during_a_window_are_marked_when_read(make_monitor, record, clock):
    monitor = make_monitor()
    covering(monitor, clock, hours=0.25)
    record(monitor, "OO")
    record(monitor, "O", start=clock + timedelta(hours=1))
    moments = list(
        Result.objects.filter(monitor=monitor).order_by("date").values_list("date", flat=True)
    )

    assert runs_in_maintenance([(monitor.pk, moment) for moment in moments]) == [True, True, False]


@pytest.mark.django_db
def test_the_held_down_mail_goes_out_when_the_window_ends_with_the_monitor_still_down(
    make_monitor, record, clock
):
    with LocalSmtpServer() as smtp:
        email_channel(smtp)
        monitor = make_monitor(name="db primary")
        covering(monitor, clock)

        after = record(monitor, "FFF")
        # The sweeper runs during the window: nothing is released, nothing is mailed.
        assert alerts_sweep(now=clock + timedelta(minutes=30)).released == []
        record(monitor, "FF", start=after)
        assert Notification.objects.count() == 0

        ended = clock + timedelta(hours=1, seconds=1)
        [released] = alerts_sweep(now=ended).released
        assert notification_deliver(released, now=ended).status == "sent"
        [mail] = smtp.wait_for_mails(1)
        assert mail.message["Subject"] == "NanoMon alert for: db primary"
        assert "connection refused" in mail.part("text/plain")
        # Once: later sweeps release nothing more.
        assert alerts_sweep(now=ended + timedelta(minutes=5)).released == []
        assert events(monitor) == ["down"]
        assert AlertState.objects.get(monitor=monitor).held_at is None
        assert len(smtp.mails) == 1


@pytest.mark.django_db
def test_result_tables_mark_the_runs_inside_a_covering_window(make_monitor, record, clock):
    from alerts.maintenance import results_marked

    monitor, other = make_monitor(name="covered"), make_monitor(name="other")
    assert results_marked(Result.objects.all()) == set()  # no windows: nothing to compute
    covering(monitor, clock, hours=0.25)
    record(monitor, "F")
    record(other, "F")
    record(monitor, "F", start=clock + timedelta(hours=1))

    marked = results_marked(Result.objects.all())

    inside = Result.objects.get(monitor=monitor, date=clock)
    assert marked == {inside.pk}
