"""Channels selected by tag (docs/alerting.md, Tags): a monitor with any of a channel's tags
also notifies it, whatever its own selection; each channel once; tags read at send time; a
muted monitor sends nothing; the routing costs no query more while no channel has tags."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from alerts.acknowledge import escalations_create
from alerts.configuration import (
    alert_policy_set,
    builtin_channel_ensure,
    channel_create,
    channel_update,
)
from alerts.maintenance import window_save
from alerts.models import AlertState, Channel, MaintenanceWindow, Notification
from alerts.outbox import channel_ids_by_monitor
from alerts.selectors import monitor_tag_channels
from alerts.sweep import alerts_sweep
from monitors.models import Monitor
from monitors.services import monitor_update

pytestmark = pytest.mark.django_db


def webhook(name: str, *, url: str = "https://hooks.example.org/x", **fields) -> Channel:
    return channel_create(name=name, kind="webhook", config={"url": url}, **fields)


def routed(*monitors: Monitor, custom: tuple[Monitor, ...] = ()) -> dict[int, set[int]]:
    channels = channel_ids_by_monitor(
        {monitor.pk for monitor in monitors}, custom={monitor.pk for monitor in custom}
    )
    for ids in channels.values():
        assert len(ids) == len(set(ids)), f"a channel twice: {ids}"
    return {monitor_id: set(ids) for monitor_id, ids in channels.items()}


def notified(monitor: Monitor, event: str = "down") -> set[int]:
    return set(
        Notification.objects.filter(transition__monitor=monitor, event=event).values_list(
            "channel_id", flat=True
        )
    )


@pytest.fixture
def mail():
    """The default channel."""
    return webhook("mail", url="https://hooks.example.org/mail")


@pytest.fixture
def pager():
    """Not a default: reached by the tags prod and db only."""
    return webhook("pager", url="https://hooks.example.org/pager", is_default=False, tags="prod db")


def test_a_tagged_channel_is_added_for_the_monitors_with_any_of_its_tags(make_monitor, mail, pager):
    prod = make_monitor(name="prod", tags=["prod", "eu"])
    db = make_monitor(name="db", tags=["db"])
    staging = make_monitor(name="staging", tags=["staging"])
    bare = make_monitor(name="bare")

    assert routed(prod, db, staging, bare) == {
        prod.pk: {mail.pk, pager.pk},
        db.pk: {mail.pk, pager.pk},
        staging.pk: {mail.pk},
        bare.pk: {mail.pk},
    }
    assert channel_ids_by_monitor({prod.pk}, custom=set())[prod.pk] == [mail.pk, pager.pk]


def test_it_adds_to_a_monitors_own_selection_too_and_no_channel_comes_twice(
    make_monitor, mail, pager
):
    own = webhook("own", is_default=False)
    chose_other = make_monitor(name="chose other", tags=["prod"])
    alert_policy_set(chose_other, use_default_channels=False, channels=[own])
    chose_pager = make_monitor(name="chose pager", tags=["prod", "db"])
    alert_policy_set(chose_pager, use_default_channels=False, channels=[pager])
    chose_none = make_monitor(name="chose none", tags=["db"])
    alert_policy_set(chose_none, use_default_channels=False, channels=[])
    untagged_none = make_monitor(name="untagged")
    alert_policy_set(untagged_none, use_default_channels=False, channels=[])
    channel_update(mail, tags=["prod"])  # a default that is also tagged

    assert routed(
        chose_other, chose_pager, chose_none, untagged_none,
        custom=(chose_other, chose_pager, chose_none, untagged_none),
    ) == {
        chose_other.pk: {own.pk, pager.pk, mail.pk},
        chose_pager.pk: {pager.pk, mail.pk},
        chose_none.pk: {pager.pk},
    }  # fmt: skip
    defaults_and_tagged = make_monitor(name="prod default", tags=["prod"])
    assert channel_ids_by_monitor({defaults_and_tagged.pk}, custom=set()) == {
        defaults_and_tagged.pk: [mail.pk, pager.pk]
    }


def test_a_disabled_tagged_channel_is_not_used(make_monitor, mail, pager):
    monitor = make_monitor(tags=["prod"])
    channel_update(pager, enabled=False)

    assert routed(monitor) == {monitor.pk: {mail.pk}}
    assert monitor_tag_channels(monitor.tags) == []


def test_the_built_in_channel_is_tag_routed_only_while_alert_smtp_configures_it(
    make_monitor, alert_settings
):
    builtin = builtin_channel_ensure()
    channel_update(builtin, is_default=False, tags=["prod"])
    monitor = make_monitor(tags=["prod"])

    assert routed(monitor) == {monitor.pk: set()}
    assert monitor_tag_channels(["prod"]) == []

    alert_settings.ALERT_SMTP_FROM = "nanomon@example.org"
    alert_settings.ALERT_SMTP_TO = ["ops@example.org"]
    assert routed(monitor) == {monitor.pk: {builtin.pk}}
    assert routed(monitor, custom=(monitor,)) == {monitor.pk: {builtin.pk}}
    assert monitor_tag_channels(["prod"]) == [builtin]


def test_a_monitor_that_gains_a_tag_later_is_routed_and_one_that_loses_it_is_not(
    make_monitor, mail, pager
):
    monitor = make_monitor()
    assert routed(monitor) == {monitor.pk: {mail.pk}}

    monitor_update(monitor, tags=["db"])
    assert routed(monitor) == {monitor.pk: {mail.pk, pager.pk}}

    monitor_update(monitor, tags=[])
    assert routed(monitor) == {monitor.pk: {mail.pk}}


def test_a_channel_that_gets_a_tag_later_is_routed(make_monitor, mail):
    monitor = make_monitor(tags=["team:web"])
    later = webhook("later", is_default=False)
    assert routed(monitor) == {monitor.pk: {mail.pk}}

    channel_update(later, tags=["team:web"])

    assert routed(monitor) == {monitor.pk: {mail.pk, later.pk}}


def test_channel_tags_are_stored_normalized_and_a_bad_one_is_refused_naming_tags(mail):
    channel = channel_update(mail, tags="prod, db prod")
    assert Channel.objects.get(pk=channel.pk).tags == ["db", "prod"]
    assert webhook("list", tags=["b", "a", "b"]).tags == ["a", "b"]

    with pytest.raises(ValidationError) as refused:
        channel_update(mail, tags=["-bad"])
    assert list(refused.value.message_dict) == ["tags"]
    with pytest.raises(ValidationError) as refused:
        webhook("many", tags=[f"t{index}" for index in range(21)])
    assert "at most 20 tags" in refused.value.message_dict["tags"][0]
    assert Channel.objects.get(pk=mail.pk).tags == ["db", "prod"]


def test_a_tagged_monitor_going_down_notifies_its_tagged_channel_and_recovers_there(
    make_monitor, record, mail, pager
):
    tagged = make_monitor(name="tagged", tags=["prod"])
    bare = make_monitor(name="bare")

    record(tagged, "FFF O")
    record(bare, "FFF O")

    assert notified(tagged) == {mail.pk, pager.pk}
    assert notified(tagged, "up") == {mail.pk, pager.pk}
    assert notified(bare) == {mail.pk}
    assert notified(bare, "up") == {mail.pk}


def test_a_prod_monitor_going_down_reaches_the_prod_webhook_and_an_untagged_one_does_not(
    make_monitor, record, receiver, eager_celery, django_capture_on_commit_callbacks
):
    channel_create(
        name="everyone", kind="webhook", config={"url": receiver.url("/all?host={HOST}")}
    )
    channel_create(
        name="prod hook",
        kind="webhook",
        config={"url": receiver.url("/prod?host={HOST}&state={STATE}")},
        is_default=False,
        tags=["prod"],
    )
    prod = make_monitor(name="prod", target="http://127.0.0.1:9/prod", tags=["prod"])
    dev = make_monitor(name="dev", target="http://127.0.0.1:9/dev", tags=["dev"])

    with django_capture_on_commit_callbacks(execute=True):
        record(prod, "FFF")
        record(dev, "FFF")

    arrived = receiver.wait_for(3)
    assert sorted((request.path, request.query["host"]) for request in arrived) == [
        ("/all", "http://127.0.0.1:9/dev"),
        ("/all", "http://127.0.0.1:9/prod"),
        ("/prod", "http://127.0.0.1:9/prod"),
    ]
    assert [r.query["state"] for r in arrived if r.path == "/prod"] == ["down"]
    assert len(receiver.requests) == 3
    assert Notification.objects.filter(status="sent").count() == 3


def test_tags_are_read_when_the_notification_is_written(make_monitor, record, mail, pager):
    monitor = make_monitor(tags=["eu"])
    after = record(monitor, "FFF")
    assert notified(monitor) == {mail.pk}

    # Tagged during the outage (an update keeps an open outage open): the recovery goes there.
    monitor_update(monitor, tags=["eu", "prod"])
    record(monitor, "O", start=after)

    assert notified(monitor, "up") == {mail.pk, pager.pk}


def test_a_muted_tagged_monitor_sends_nothing(make_monitor, record, mail, pager):
    monitor = make_monitor(tags=["prod"])
    alert_policy_set(monitor, muted=True)

    record(monitor, "FFF O")

    assert Notification.objects.filter(transition__monitor=monitor).count() == 0
    assert AlertState.objects.get(monitor=monitor).state == "up"


def test_reminders_go_to_the_tagged_channels_too(make_monitor, record, mail, pager):
    monitor = make_monitor(tags=["db"])
    alert_policy_set(monitor, reminder_minutes=10, use_default_channels=False, channels=[])
    record(monitor, "FFF")
    Notification.objects.update(status="sent")  # delivered: no pile-up check in the way
    down_at = AlertState.objects.get(monitor=monitor).changed_at

    reminders = alerts_sweep(now=down_at + timedelta(minutes=10)).reminders

    assert notified(monitor) == {pager.pk}
    assert set(
        Notification.objects.filter(pk__in=reminders).values_list("channel_id", flat=True)
    ) == {pager.pk}


def test_a_down_held_by_maintenance_is_released_to_the_tagged_channels_too(
    make_monitor, record, clock, mail, pager
):
    monitor = make_monitor(tags=["prod"])
    window_save(
        MaintenanceWindow(
            name="upgrade", starts_at=clock - timedelta(hours=1), ends_at=clock + timedelta(hours=1)
        ),
        monitors=[monitor.pk],
    )
    record(monitor, "FFF")
    assert Notification.objects.count() == 0

    released = alerts_sweep(now=clock + timedelta(hours=1, seconds=1)).released

    assert set(
        Notification.objects.filter(pk__in=released).values_list("channel_id", flat=True)
    ) == {mail.pk, pager.pk}


def test_escalation_stays_on_the_escalation_channels(make_monitor, record, mail, pager):
    escalation = webhook("escalation", is_default=False)
    monitor = make_monitor(tags=["prod"])
    alert_policy_set(monitor, escalate_after_minutes=5, escalation_channels=[escalation])
    record(monitor, "FFF")
    down_at = AlertState.objects.get(monitor=monitor).changed_at

    escalated = escalations_create(down_at + timedelta(minutes=6))

    assert set(
        Notification.objects.filter(pk__in=escalated).values_list("channel_id", flat=True)
    ) == {escalation.pk}


# --- Queries -----------------------------------------------------------------------------------


def test_without_tagged_channels_the_defaults_cost_one_query_as_before(
    make_monitor, mail, django_assert_num_queries
):
    monitors = {make_monitor(name=f"m{index}", tags=["prod"]).pk for index in range(5)}
    own = make_monitor(name="own", tags=["prod"])
    alert_policy_set(own, use_default_channels=False, channels=[mail])

    with django_assert_num_queries(1):  # the default (and tagged) channels
        channel_ids_by_monitor(monitors, custom=set())
    with django_assert_num_queries(2):  # and the own selections
        channel_ids_by_monitor(monitors | {own.pk}, custom={own.pk})
    with django_assert_num_queries(2):  # the tagged channels (none), the own selections
        channel_ids_by_monitor({own.pk}, custom={own.pk})
    with django_assert_num_queries(0):
        assert channel_ids_by_monitor(set(), custom=set()) == {}


def test_with_tagged_channels_one_query_more_for_the_monitors_tags_whatever_their_number(
    make_monitor, mail, pager, django_assert_num_queries
):
    few = {make_monitor(name=f"few{index}", tags=["prod"]).pk for index in range(2)}
    many = {make_monitor(name=f"many{index}", tags=["db"]).pk for index in range(20)}
    own = make_monitor(name="own", tags=["prod"])
    alert_policy_set(own, use_default_channels=False, channels=[mail])

    with django_assert_num_queries(2):  # channels, the monitors' tags
        assert all(pager.pk in ids for ids in channel_ids_by_monitor(few, custom=set()).values())
    with django_assert_num_queries(3):  # channels, own selections, the monitors' tags
        routing = channel_ids_by_monitor(few | many | {own.pk}, custom={own.pk})
    assert all(pager.pk in routing[monitor_id] for monitor_id in few | many | {own.pk})
    with django_assert_num_queries(1):  # the page's and the API's list: one query
        assert monitor_tag_channels(["prod"]) == [pager]
    with django_assert_num_queries(0):
        assert monitor_tag_channels([]) == []
