"""``GET /api/alerts/history``: outages (start, end, duration, first and last message, what was
seen) with their notifications and delivery attempts, per monitor or all, paged by cursor."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alerts import tasks
from alerts.models import Notification

pytestmark = pytest.mark.django_db


def test_an_outage_with_its_notifications_and_attempts(
    viewer, make_monitor, record, clock, webhook_channel, receiver
):
    monitor = make_monitor(name="web")
    record(monitor, "O EEF O", start=clock)
    for notification in Notification.objects.order_by("id"):
        tasks.deliver_notification(notification.pk)
    receiver.wait_for(2)

    (outage,) = viewer.get("/api/alerts/history").json()

    assert outage["monitor"] == monitor.pk
    assert outage["monitor_name"] == "web"
    assert outage["started_at"].startswith((clock + timedelta(seconds=90)).strftime("%Y-%m-%dT%H"))
    assert outage["duration_seconds"] == 30.0
    assert outage["failures"] == 3
    assert outage["first_message"] == "connection refused"
    assert outage["last_message"] == "connection refused"
    assert outage["seen"]["status"] == 2
    assert outage["seen"]["message"] == "connection refused"
    down, up = outage["notifications"]
    assert (down["event"], up["event"]) == ("down", "up")
    assert (down["status"], down["channel_name"]) == ("sent", "hook")
    assert [a["succeeded"] for a in down["attempts"]] == [True]


def test_an_ongoing_outage_has_no_end_and_its_last_message_is_the_latest(
    viewer, make_monitor, record, clock
):
    monitor = make_monitor()
    record(monitor, "FFFE", start=clock)

    (outage,) = viewer.get(f"/api/alerts/history?monitor={monitor.pk}").json()

    assert outage["ended_at"] is None
    assert outage["duration_seconds"] >= 0
    assert outage["first_message"] == "connection refused"
    assert outage["last_message"] == "Rule violated: status == 200"
    assert outage["seen"]["outputs"] is None


def test_each_outage_has_its_own_last_message(viewer, make_monitor, record, clock):
    """The last message is the last failure before the outage's end, not a later outage's."""
    monitor, other = make_monitor(name="a"), make_monitor(name="b")
    moment = record(monitor, "FFFE O", start=clock)
    record(other, "EEE F", start=clock)  # another monitor's failures in the same time
    record(monitor, "FFF O", start=moment + timedelta(minutes=5))

    newer, older = viewer.get(f"/api/alerts/history?monitor={monitor.pk}").json()

    assert (older["first_message"], older["last_message"]) == (
        "connection refused",
        "Rule violated: status == 200",
    )
    assert newer["last_message"] == "connection refused"
    (theirs,) = viewer.get(f"/api/alerts/history?monitor={other.pk}").json()
    assert theirs["last_message"] == "connection refused"


def test_filtered_per_monitor_and_paged_with_a_link(viewer, make_monitor, record, clock):
    first, second = make_monitor(name="a"), make_monitor(name="b")
    moment = record(first, "FFF O FFF O FFF O", start=clock)
    record(second, "FFF", start=moment)

    assert len(viewer.get("/api/alerts/history").json()) == 4
    assert len(viewer.get(f"/api/alerts/history?monitor={second.pk}").json()) == 1
    page = viewer.get(f"/api/alerts/history?monitor={first.pk}&max=2")
    assert len(page.json()) == 2
    following = page.headers["Link"].split(">")[0].lstrip("<")
    rest = viewer.get(following).json()
    assert len(rest) == 1
    assert rest[0]["started_at"] < page.json()[1]["started_at"]


def test_bad_parameters_and_anonymous_callers_are_refused(viewer, anonymous):
    assert viewer.get("/api/alerts/history?max=0").status_code == 400
    assert viewer.get("/api/alerts/history?monitor=x").status_code == 400
    assert viewer.get("/api/alerts/history?before=yesterday").status_code == 400
    assert anonymous.get("/api/alerts/history").status_code == 401


def test_a_page_costs_the_same_queries_whatever_its_outages(viewer, make_monitor, record, clock):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert viewer.get("/api/alerts/history").status_code == 200
        return len(captured)

    monitor = make_monitor()
    moment = record(monitor, "FFF O FFF O", start=clock)
    two = queries()
    record(monitor, "FFF O FFF O FFF O FFF O", start=moment)
    six = queries()

    # The last messages come with the downs (a subquery); ends, runs, notifications batched.
    assert six == two
