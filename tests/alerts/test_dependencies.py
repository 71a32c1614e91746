"""Dependencies and canaries: while a parent is down (or every canary is), a monitor's DOWN is
recorded but held; the sweeper sends the held alert when the parent recovers with the monitor
still down; a held monitor that recovers sends nothing; recoveries are never held. Mails go to
a real SMTP server on loopback; times are explicit, no sleeping."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from alerts.delivery import notification_deliver
from alerts.dependencies import (
    CANARY,
    PARENT,
    UNREACHABLE,
    children_of,
    dependencies_set,
    held_by_dependencies,
    monitors_unreachable,
    parents_of,
)
from alerts.models import AlertState, Dependency, Notification
from alerts.sweep import alerts_sweep
from loop.batches import batch_record
from monitors.models import Monitor
from monitors.services import monitor_update
from results.services import RunRecord
from tests.alerts.conftest import alert_state, check, email_channel, events
from tests.support.smtp_server import LocalSmtpServer


def record_batch(runs: dict[Monitor, str], at: datetime) -> None:
    """One batch through ``batch_record``: each monitor's run ("O", "E" or "F") at ``at``."""
    token = uuid.uuid4()
    Monitor.objects.filter(pk__in=[monitor.pk for monitor in runs]).update(run_token=token)
    batch_record(
        token=token,
        runs=[
            RunRecord(monitor.pk, monitor.name, monitor.target, at, check(code, at))
            for monitor, code in runs.items()
        ],
    )


def deliver_pending(now: datetime) -> int:
    pending = list(
        Notification.objects.filter(status=Notification.Status.PENDING).values_list("pk", flat=True)
    )
    for pk in pending:
        assert notification_deliver(pk, now=now).status == "sent"
    return len(pending)


def subjects(mails) -> list[str]:
    return sorted(mail.message["Subject"] for mail in mails)


# --- the relation ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_parents_are_set_and_replaced(make_monitor):
    gateway, dns, host = (make_monitor(name=name) for name in ("gateway", "dns", "host"))

    assert dependencies_set(host, parents=[gateway.pk, dns.pk]) == [dns, gateway]
    assert dependencies_set(host, parents=[gateway.pk]) == [gateway]
    assert parents_of(host.pk) == [gateway]
    assert children_of(gateway.pk) == [host]
    assert children_of(dns.pk) == []


@pytest.mark.django_db
def test_a_monitor_cannot_depend_on_itself_on_its_descendants_or_on_nothing(make_monitor):
    a, b, c = (make_monitor(name=name) for name in ("a", "b", "c"))
    dependencies_set(b, parents=[a.pk])
    dependencies_set(c, parents=[b.pk])

    for monitor, parents, words in [
        (a, [a.pk], "cannot depend on itself"),
        (a, [b.pk], "cycle: these already depend on it: b"),
        (a, [c.pk], "cycle"),  # through b
        (a, [999_999], "No such monitor: 999999"),
    ]:
        with pytest.raises(ValidationError) as refused:
            dependencies_set(monitor, parents=parents)
        assert words in refused.value.message_dict["parents"][0]
    assert Dependency.objects.count() == 2  # nothing stored by the refusals


@pytest.mark.django_db
def test_deleting_a_parent_deletes_the_dependency(make_monitor):
    gateway, host = make_monitor(name="gateway"), make_monitor(name="host")
    dependencies_set(host, parents=[gateway.pk])

    gateway.delete()

    assert Dependency.objects.count() == 0


# --- holding -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_failing_parent_holds_its_children_and_a_disabled_one_holds_nothing(
    make_monitor, record, clock
):
    gateway, host = make_monitor(name="gateway"), make_monitor(name="host")
    dependencies_set(host, parents=[gateway.pk])
    assert held_by_dependencies({host.pk}) == {}

    record(gateway, "F")  # failing, not yet down: already holds
    record(host, "F")
    assert held_by_dependencies({host.pk, gateway.pk}) == {host.pk: PARENT}
    assert monitors_unreachable({host.pk, gateway.pk}) == {host.pk: UNREACHABLE[PARENT]}
    assert UNREACHABLE[PARENT] == "unreachable (parent down)"

    monitor_update(
        gateway, name=gateway.name, kind=gateway.kind, target=gateway.target,
        interval=gateway.interval, rule=gateway.rule, enabled=False,
        properties=gateway.properties,
    )  # fmt: skip
    assert held_by_dependencies({host.pk}) == {}


@pytest.mark.django_db
def test_a_child_down_while_its_parent_is_down_is_held_then_released_when_the_parent_recovers(
    make_monitor, record, clock, webhook_channel, receiver
):
    gateway, host = make_monitor(name="gateway"), make_monitor(name="host")
    dependencies_set(host, parents=[gateway.pk])

    after = record(gateway, "FFF")
    record(host, "FFF")

    assert alert_state(host) == "down"
    assert AlertState.objects.get(monitor=host).held_at is not None
    assert events(gateway) == ["down"]
    assert events(host) == []
    assert alerts_sweep(now=after).released == []  # the parent is still down

    record(gateway, "O", start=after)
    assert events(gateway) == ["down", "up"]
    [released] = alerts_sweep(now=after + timedelta(seconds=1)).released
    assert Notification.objects.get(pk=released).transition.monitor_id == host.pk
    assert events(host) == ["down"]
    assert alerts_sweep(now=after + timedelta(minutes=1)).released == []  # once

    record(host, "O", start=after + timedelta(minutes=1))
    assert events(host) == ["down", "up"]  # its down alert was sent: so is its recovery


@pytest.mark.django_db
def test_recoveries_are_never_held(make_monitor, record, clock, webhook_channel):
    gateway, host = make_monitor(name="gateway"), make_monitor(name="host")
    dependencies_set(host, parents=[gateway.pk])

    after = record(host, "FFF")  # the parent is up: the child alerts
    assert events(host) == ["down"]
    after = record(gateway, "FFF", start=after)
    record(host, "O", start=after)

    assert events(host) == ["down", "up"]


@pytest.mark.django_db
def test_a_grandparent_down_holds_the_whole_tree(make_monitor, record, clock, webhook_channel):
    uplink, gateway, host = (make_monitor(name=name) for name in ("uplink", "gateway", "host"))
    dependencies_set(gateway, parents=[uplink.pk])
    dependencies_set(host, parents=[gateway.pk])

    for monitor in (uplink, gateway, host):
        record(monitor, "FFF")

    assert [events(monitor) for monitor in (uplink, gateway, host)] == [["down"], [], []]


@pytest.mark.django_db
def test_a_parent_outage_sends_one_alert_for_a_parent_with_50_children(make_monitor, clock):
    """The issue's done-when, through a real SMTP server: a parent and its 50 children all
    fail (each time the children are checked before the parent) and one down mail goes out,
    the parent's; the parent recovers while one child is still down: that child's own down
    mail then, and its recovery later; the 49 children that recovered while held send nothing."""
    with LocalSmtpServer() as smtp:
        email_channel(smtp)
        parent = make_monitor(name="gateway")
        children = [make_monitor(name=f"host {n:02}") for n in range(50)]
        for child in children:
            dependencies_set(child, parents=[parent.pk])

        moment = clock
        for _ in range(3):  # ALERT_FAIL_COUNT
            record_batch(dict.fromkeys(children, "F"), moment)
            record_batch({parent: "F"}, moment + timedelta(seconds=1))
            moment += timedelta(seconds=30)
        assert AlertState.objects.filter(state="down").count() == 51
        assert AlertState.objects.filter(held_at__isnull=False).count() == 50
        assert alerts_sweep(now=moment).released == []
        assert deliver_pending(moment) == 1
        [mail] = smtp.wait_for_mails(1)
        assert mail.message["Subject"] == "NanoMon alert for: gateway"

        # The parent recovers; one child is still down, the others recover.
        record_batch({parent: "O"}, moment)
        still_down, recovered = children[7], children[:7] + children[8:]
        record_batch({**dict.fromkeys(recovered, "O"), still_down: "F"}, moment)
        [released] = alerts_sweep(now=moment + timedelta(seconds=1)).released
        assert Notification.objects.get(pk=released).transition.monitor_id == still_down.pk
        assert deliver_pending(moment + timedelta(seconds=1)) == 2  # parent up, child down
        record_batch({still_down: "O"}, moment + timedelta(seconds=30))
        assert deliver_pending(moment + timedelta(seconds=30)) == 1

        mails = smtp.wait_for_mails(4)
        assert subjects(mails) == [
            "NanoMon alert for: gateway",
            "NanoMon alert for: host 07",
            "NanoMon recovered: gateway",
            "NanoMon recovered: host 07",
        ]
        assert all(events(child) == [] for child in recovered)


@pytest.mark.django_db
def test_while_every_canary_is_down_only_the_canaries_alert(make_monitor, clock):
    """The prober cut off: its canary (and every other monitor) fails; one mail, the canary's;
    when the canary recovers, a monitor still down sends its own alert."""
    with LocalSmtpServer() as smtp:
        email_channel(smtp)
        canary = make_monitor(name="canary: upstream resolver")
        dependencies_set(canary, parents=[], canary=True)
        others = [make_monitor(name=f"site {n}") for n in range(5)]

        moment = clock
        for _ in range(3):
            record_batch({**dict.fromkeys(others, "F"), canary: "F"}, moment)
            moment += timedelta(seconds=30)
        assert held_by_dependencies({m.pk for m in others}) == dict.fromkeys(
            (m.pk for m in others), CANARY
        )
        assert monitors_unreachable({others[0].pk}) == {others[0].pk: UNREACHABLE[CANARY]}
        assert deliver_pending(moment) == 1
        assert [m.message["Subject"] for m in smtp.wait_for_mails(1)] == [
            "NanoMon alert for: canary: upstream resolver"
        ]

        record_batch({canary: "O", **dict.fromkeys(others[1:], "O"), others[0]: "F"}, moment)
        [released] = alerts_sweep(now=moment + timedelta(seconds=1)).released
        assert Notification.objects.get(pk=released).transition.monitor_id == others[0].pk
        assert deliver_pending(moment + timedelta(seconds=1)) == 2
        assert subjects(smtp.wait_for_mails(3)) == [
            "NanoMon alert for: canary: upstream resolver",
            "NanoMon alert for: site 0",
            "NanoMon recovered: canary: upstream resolver",
        ]


@pytest.mark.django_db
def test_one_canary_of_two_down_holds_nothing(make_monitor, record, clock, webhook_channel):
    first, second = make_monitor(name="canary 1"), make_monitor(name="canary 2")
    dependencies_set(first, parents=[], canary=True)
    dependencies_set(second, parents=[], canary=True)
    site = make_monitor(name="site")

    record(first, "FFF")
    record(site, "FFF")

    assert events(site) == ["down"]
    dependencies_set(second, parents=[], canary=False)
    assert held_by_dependencies({site.pk}) == {site.pk: CANARY}  # now the only canary is down
