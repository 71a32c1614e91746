"""The alert state machine: which run sequences produce which notifications.

Runs go through ``batch_record`` (the loop's conductor, in its transaction); one default webhook
channel is configured, so each notifying transition writes exactly one outbox row.
Codes: O OK, E Error, F Failed, u an update of the monitor.
"""

from __future__ import annotations

import uuid

import pytest
from django.db import IntegrityError, transaction

from alerts.configuration import alert_policy_set, channel_create
from alerts.models import AlertLevel, Channel, Notification, Transition
from alerts.selectors import transition_result
from alerts.transitions import next_alert_state, transitions_record
from loop.batches import batch_record
from monitors.models import Monitor
from results.models import MonitorState, Result
from results.services import RunRecord
from tests.alerts.conftest import alert_state, check, events

pytestmark = pytest.mark.django_db

SEQUENCES = [
    # (what it shows, runs, fail threshold, recover threshold, notifications, final state)
    ("only OK runs send nothing", "OOOOO", 3, 1, [], "up"),
    ("two failures stay under the threshold", "EE", 3, 1, [], "unknown"),
    ("errors and failures both count", "EFE", 3, 1, ["down"], "down"),
    ("a long outage alerts once", "FFFFFFFFFF", 3, 1, ["down"], "down"),
    ("an OK run recovers and re-arms", "EEEO", 3, 1, ["down", "up"], "up"),
    ("each outage alerts and recovers once", "EEEO EEEO", 3, 1, ["down", "up"] * 2, "up"),
    ("an OK run between failures restarts the count", "EEOEEOEE", 3, 1, [], "up"),
    ("a threshold of one alerts on the first failure", "F", 1, 1, ["down"], "down"),
    ("from up, the threshold still applies", "OOEE E", 3, 1, ["down"], "down"),
    ("recovery waits for enough OK runs in a row", "EEE OEOO", 3, 2, ["down", "up"], "up"),
    ("flapping while down never recovers early", "FFF OFOFOF", 3, 2, ["down"], "down"),
    ("flapping under the threshold never alerts", "EOEOEOEO", 2, 1, [], "up"),
    ("an update resets the failure streak", "EE u E", 3, 1, [], "unknown"),
    ("after an update a full streak alerts", "EE u EEE", 3, 1, ["down"], "down"),
    ("an update keeps an open outage: no second alert", "EEE u EEEE", 3, 1, ["down"], "down"),
    ("an update keeps an open outage: OK recovers it", "EEE u O", 3, 1, ["down", "up"], "up"),
    ("an update keeps the recovery count", "EEE O u O", 3, 2, ["down", "up"], "up"),
    ("many outages, many pairs", "FFFO" * 4, 3, 1, ["down", "up"] * 4, "up"),
]


@pytest.mark.parametrize(
    ("runs", "fail", "recover", "expected", "final"),
    [case[1:] for case in SEQUENCES],
    ids=[case[0] for case in SEQUENCES],
)
def test_run_sequences_produce_exactly_these_notifications(
    make_monitor, record, webhook_channel, alert_settings, runs, fail, recover, expected, final
):
    alert_settings.ALERT_FAIL_COUNT = fail
    alert_settings.ALERT_RECOVER_COUNT = recover
    monitor = make_monitor()

    record(monitor, runs)

    assert events(monitor) == expected
    assert alert_state(monitor) == final
    # Every notification has its own transition; UNKNOWN -> UP is the only silent one.
    notifying = Transition.objects.filter(monitor=monitor).exclude(
        from_state="unknown", to_state="up"
    )
    assert notifying.count() == len(expected)


def test_the_state_machine_is_a_pure_function_of_state_streaks_and_thresholds():
    down, up, unknown = AlertLevel.DOWN, AlertLevel.UP, AlertLevel.UNKNOWN
    step = next_alert_state
    assert step(up, 0, ok=False, failures=2, fail_threshold=3, recover_threshold=1) == (up, 0)
    assert step(up, 0, ok=False, failures=3, fail_threshold=3, recover_threshold=1) == (down, 0)
    assert step(unknown, 0, ok=False, failures=3, fail_threshold=3, recover_threshold=1) == (
        down,
        0,
    )
    assert step(down, 0, ok=False, failures=9, fail_threshold=3, recover_threshold=1) == (down, 0)
    assert step(down, 0, ok=True, failures=0, fail_threshold=3, recover_threshold=2) == (down, 1)
    assert step(down, 1, ok=False, failures=1, fail_threshold=3, recover_threshold=2) == (down, 0)
    assert step(down, 1, ok=True, failures=0, fail_threshold=3, recover_threshold=2) == (up, 0)
    assert step(unknown, 0, ok=True, failures=0, fail_threshold=3, recover_threshold=5) == (up, 0)


def test_a_transition_records_old_and_new_state_reason_result_and_time(
    make_monitor, record, webhook_channel, clock
):
    monitor = make_monitor(name="shop", target="http://127.0.0.1:9/shop")
    record(monitor, "OFFF")

    went_down = Transition.objects.get(monitor=monitor, to_state=AlertLevel.DOWN)
    third_failure = Result.objects.filter(monitor=monitor).order_by("date").last()
    assert (went_down.from_state, went_down.to_state) == (AlertLevel.UP, AlertLevel.DOWN)
    assert went_down.reason == "connection refused"
    assert went_down.failures == 3
    assert went_down.result_id == third_failure.pk
    assert went_down.happened_at == third_failure.date
    assert (went_down.monitor_name, went_down.monitor_target) == ("shop", monitor.target)
    [notification] = Notification.objects.filter(transition=went_down)
    assert (notification.channel, notification.event) == (webhook_channel, "down")
    assert notification.status == Notification.Status.PENDING
    assert notification.next_attempt_at <= notification.created_at


def test_a_per_monitor_threshold_overrides_alert_fail_count(make_monitor, record, webhook_channel):
    strict, lenient = make_monitor(name="strict"), make_monitor(name="lenient")
    alert_policy_set(strict, fail_threshold=1)
    alert_policy_set(lenient, fail_threshold=5, recover_threshold=2)

    record(strict, "F")
    record(lenient, "FFFF")
    assert (events(strict), events(lenient)) == (["down"], [])

    record(lenient, "F O O")
    assert events(lenient) == ["down", "up"]


def test_a_muted_monitor_tracks_its_state_but_sends_nothing(make_monitor, record, webhook_channel):
    monitor = make_monitor()
    alert_policy_set(monitor, muted=True)

    record(monitor, "FFFO")

    assert Transition.objects.filter(monitor=monitor).count() == 2
    assert events(monitor) == []


def test_a_monitor_with_its_own_channels_notifies_only_those(make_monitor, record, receiver):
    default = channel_create(name="everyone", kind="webhook", config={"url": receiver.url("/a")})
    own = channel_create(
        name="team", kind="webhook", config={"url": receiver.url("/b")}, is_default=False
    )
    disabled = channel_create(
        name="off", kind="webhook", config={"url": receiver.url("/c")}, enabled=False
    )
    picky, plain = make_monitor(name="picky"), make_monitor(name="plain")
    alert_policy_set(picky, use_default_channels=False, channels=[own, disabled])

    record(picky, "FFF")
    record(plain, "FFF")

    assert [n.channel for n in Notification.objects.filter(transition__monitor=picky)] == [own]
    assert [n.channel for n in Notification.objects.filter(transition__monitor=plain)] == [default]


def test_every_default_channel_gets_its_own_notification(make_monitor, record, receiver):
    channels = [
        channel_create(name=f"hook {n}", kind="webhook", config={"url": receiver.url(f"/{n}")})
        for n in range(3)
    ]
    monitor = make_monitor()

    record(monitor, "FFFO")

    rows = Notification.objects.filter(transition__monitor=monitor)
    assert sorted((n.event, n.channel_id) for n in rows) == sorted(
        (event, channel.pk) for event in ("down", "up") for channel in channels
    )


def test_the_builtin_email_channel_needs_only_the_environment(make_monitor, record, alert_settings):
    Channel.objects.filter(builtin=Channel.BUILTIN_SETTINGS_EMAIL).delete()  # no DB setup at all
    alert_settings.ALERT_SMTP_FROM = "NanoMon <nanomon@example.org>"
    alert_settings.ALERT_SMTP_TO = ["ops@example.org"]
    monitor = make_monitor()

    record(monitor, "FFF")

    [notification] = Notification.objects.filter(transition__monitor=monitor)
    assert notification.channel.builtin == Channel.BUILTIN_SETTINGS_EMAIL


def test_the_builtin_email_channel_is_silent_without_from_and_to(make_monitor, record):
    monitor = make_monitor()

    record(monitor, "FFF")

    assert Transition.objects.filter(monitor=monitor, to_state="down").exists()
    assert events(monitor) == []


def test_a_batch_delivered_twice_records_one_transition(make_monitor, webhook_channel, clock):
    monitor = make_monitor()
    MonitorState.objects.filter(monitor=monitor).update(consecutive_failures=2)
    token = uuid.uuid4()
    Monitor.objects.filter(pk=monitor.pk).update(run_token=token)
    runs = [RunRecord(monitor.pk, monitor.name, monitor.target, clock, check("F", clock))]

    batch_record(token=token, runs=runs)
    batch_record(token=token, runs=runs)  # the same task delivered again

    assert Transition.objects.filter(monitor=monitor).count() == 1
    assert events(monitor) == ["down"]


def test_applying_the_same_results_twice_changes_nothing_the_second_time(
    make_monitor, record, webhook_channel, clock
):
    monitor = make_monitor()
    record(monitor, "FF")
    record(monitor, "F")
    result = Result.objects.filter(monitor=monitor).first()

    with transaction.atomic():
        again = transitions_record(results=[result], failure_streaks={monitor.pk: 3}, now=clock)

    assert again == []
    assert events(monitor) == ["down"]


def test_the_database_refuses_a_second_transition_for_one_claim(make_monitor, record, clock):
    monitor = make_monitor()
    record(monitor, "FFF")
    first = Transition.objects.get(monitor=monitor)

    with pytest.raises(IntegrityError), transaction.atomic():
        Transition.objects.create(
            monitor=monitor, from_state="up", to_state="down", monitor_name="x",
            monitor_target="y", happened_at=clock, created_at=clock,
            state_version=first.state_version,
        )  # fmt: skip


def test_a_batch_where_nothing_changes_costs_one_query(
    make_monitor, record, webhook_channel, clock, django_assert_num_queries
):
    monitors = [make_monitor(name=f"m{n}") for n in range(20)]
    for monitor in monitors:
        record(monitor, "O")
    results = [Result.objects.filter(monitor=monitor).first() for monitor in monitors]

    with django_assert_num_queries(1), transaction.atomic(savepoint=False):
        transitions_record(results=results, failure_streaks={m.pk: 0 for m in monitors}, now=clock)


def test_deleting_all_results_keeps_the_transitions(make_monitor, record, webhook_channel):
    monitor = make_monitor()
    record(monitor, "FFF")

    Result.objects.all().delete()

    # The transition keeps the id of its result (no database constraint: results are
    # partitioned and dropped by day); reading the result answers None, never raises.
    transition = Transition.objects.get(monitor=monitor)
    assert transition.result_id is not None
    assert transition_result(transition) is None
    assert transition.reason == "connection refused"
