"""Push monitors: pings over HTTP (Healthchecks' and Uptime Kuma's URLs) and missed deadlines
recorded by the dispatcher's claims, exactly once per missed period."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from alerts.models import Transition
from loop import views
from loop.batches import batch_record
from loop.pings import Ping, PingKind, ping_record
from monitors.engine import run_checks_sync
from monitors.models import Monitor
from monitors.scheduling import claim_due_monitors, start_claimed_batch
from monitors.services import monitor_update, push_token_rotate
from results.models import MonitorState, Result
from results.services import RunRecord

pytestmark = pytest.mark.django_db
LEASE = timedelta(seconds=30)


@pytest.fixture
def push_monitor(make_monitor, now):
    return make_monitor(
        name="backup", kind="push", target="nightly backup", interval="5m",
        properties={"grace": "1m"}, rule="exitCode == 0",
    )  # fmt: skip


@pytest.fixture(autouse=True)
def fresh_buckets(monkeypatch):
    monkeypatch.setattr(views, "BUCKETS", views.TokenBuckets())


def results(monitor):
    return list(Result.objects.filter(monitor=monitor).order_by("date", "id"))


def run_due(now):
    """What the loop does at ``now``: claim due monitors, run them, record them."""
    token, claims = claim_due_monitors(now=now, limit=100, lease=LEASE)
    monitors = start_claimed_batch(
        token=token, monitor_ids=[claim.monitor_id for claim in claims], now=now, grace=LEASE
    )
    checks = run_checks_sync([monitor.check_request() for monitor in monitors], concurrency=10)
    runs = [
        RunRecord(m.id, m.name, m.target, claim.scheduled_for, check, monitor_kind=m.kind)
        for m, claim, check in zip(monitors, claims, checks, strict=True)
    ]
    return batch_record(token=token, runs=runs)


def test_a_push_monitor_gets_a_token_and_its_first_deadline_is_period_plus_grace(push_monitor, now):
    assert len(push_monitor.push_token) == 22
    assert push_monitor.next_run_at == now + timedelta(minutes=6)
    assert run_due(now + timedelta(minutes=5)) == []  # nothing runs before the deadline


def test_a_missed_deadline_is_failed_once_per_missed_period(push_monitor, now):
    recorded = run_due(now + timedelta(minutes=6))
    assert [(r.status, r.message) for r in recorded] == [(2, "no ping within 5m (+1m grace)")]
    # The same moment again (another dispatcher tick): nothing more.
    assert run_due(now + timedelta(minutes=6, seconds=1)) == []
    assert run_due(now + timedelta(minutes=10, seconds=59)) == []
    # One period later, the next missed period.
    assert len(run_due(now + timedelta(minutes=11))) == 1
    assert len(results(push_monitor)) == 2


def test_a_ping_records_ok_moves_the_deadline_and_recovers(push_monitor, now, client):
    run_due(now + timedelta(minutes=6))
    response = client.post(
        f"/ping/{push_monitor.push_token}", data=b"all good", content_type="text/plain"
    )
    assert response.status_code == 200
    assert response.content == b"OK\n"
    latest = results(push_monitor)[-1]
    assert (latest.status, latest.message, latest.outputs) == (0, "all good", {"exitCode": 0})
    monitor = Monitor.objects.get(pk=push_monitor.pk)
    pinged_at = latest.date
    assert monitor.next_run_at == pinged_at + timedelta(minutes=6)
    assert monitor.run_token is None


def test_a_ping_beats_a_deadline_already_claimed(push_monitor, now):
    deadline = now + timedelta(minutes=6)
    token, claims = claim_due_monitors(now=deadline - timedelta(seconds=1), limit=10,
                                       lease=LEASE, lookahead=timedelta(seconds=2))  # fmt: skip
    assert [claim.monitor_id for claim in claims] == [push_monitor.pk]
    monitors = start_claimed_batch(token=token, monitor_ids=[push_monitor.pk],
                                   now=deadline - timedelta(seconds=1), grace=LEASE)  # fmt: skip
    assert ping_record(Ping(push_monitor.push_token, PingKind.SUCCESS), now=deadline)
    (check,) = run_checks_sync([monitors[0].check_request()], concurrency=1)
    missed = RunRecord(push_monitor.pk, "backup", "nightly backup", deadline, check, "push")
    assert batch_record(token=token, runs=[missed]) == []  # the claim was dropped: not recorded
    assert [r.status for r in results(push_monitor)] == [0]


def test_fail_exit_code_and_start_pings(push_monitor, client):
    token = push_monitor.push_token
    assert client.get(f"/ping/{token}/start").status_code == 200
    assert MonitorState.objects.get(monitor=push_monitor).memory["startedAt"]
    assert (
        client.post(f"/ping/{token}/3", data=b"disk full", content_type="text/plain").status_code
        == 200
    )
    assert client.get(f"/ping/{token}/fail").status_code == 200
    assert client.head(f"/ping/{token}/0").status_code == 200
    first, second, third = results(push_monitor)
    assert (first.status, first.message, first.outputs["exitCode"]) == (1, "disk full", 3)
    assert first.outputs["duration"] >= 0
    assert first.value == first.outputs["duration"]
    assert (second.status, second.message, second.outputs) == (
        1,
        "job reported failure",
        {"exitCode": 1},
    )
    assert (third.status, third.outputs) == (0, {"exitCode": 0})  # no start: no duration
    assert client.get(f"/ping/{token}/256").status_code == 400


def test_the_rule_decides_a_success_ping(make_monitor, client):
    monitor = make_monitor(kind="push", target="job", interval="1h", rule="duration < 1000")
    client.get(f"/api/push/{monitor.push_token}?status=up&msg=OK&ping=2500")
    (result,) = results(monitor)
    assert (result.status, result.message, result.value) == (
        1,
        "Rule violated: duration < 1000",
        2500,
    )


def test_uptime_kuma_push_url(push_monitor, client):
    token = push_monitor.push_token
    assert client.get(f"/api/push/{token}?status=up&msg=OK&ping=12.5").json() == {"ok": True}
    assert client.get(f"/api/push/{token}?status=down&msg=db%20gone").status_code == 200
    assert client.get(f"/api/push/{token}?status=sideways").status_code == 400
    assert client.get(f"/api/push/{token}?ping=nan").status_code == 400
    up, down = results(push_monitor)
    assert (up.status, up.value, up.message) == (0, 12.5, "")
    assert (down.status, down.message) == (1, "db gone")


def test_an_unknown_or_rotated_token_is_a_plain_404(push_monitor, client, make_monitor):
    other = make_monitor(name="web")
    for url in ("/ping/nosuchtoken", f"/ping/{uuid.uuid4()}/fail", "/api/push/nosuch"):
        assert client.get(url).status_code == 404
    old = push_monitor.push_token
    push_token_rotate(push_monitor)
    assert client.get(f"/ping/{old}").status_code == 404
    assert client.get(f"/ping/{push_monitor.push_token}").status_code == 200
    assert other.push_token is None


def test_a_long_body_is_cut_and_says_so(push_monitor, client):
    body = ("é" * 8000).encode()  # 16,000 bytes
    client.post(f"/ping/{push_monitor.push_token}/fail", data=body, content_type="text/plain")
    (result,) = results(push_monitor)
    assert result.message.endswith("… (cut at 10,000 bytes)")
    assert result.message.startswith("é" * 4999)


def test_a_flood_for_one_token_is_limited_without_touching_others(
    push_monitor, make_monitor, client, settings
):
    settings.NANOMON_PUSH_RATE = 1
    other = make_monitor(name="other", kind="push", target="job", interval="1h")
    codes = [client.get(f"/ping/{push_monitor.push_token}").status_code for _ in range(8)]
    assert codes[:4] == [200] * 4
    assert set(codes[4:]) == {429}
    limited = client.get(f"/ping/{push_monitor.push_token}")
    assert int(limited["Retry-After"]) >= 1
    assert client.get(f"/ping/{other.push_token}").status_code == 200
    assert len(results(push_monitor)) == 4


def test_down_after_missed_deadlines_and_up_on_a_late_ping(push_monitor, now):
    for minutes in (6, 11, 16):  # three missed periods: the default policy (3) alerts
        assert len(run_due(now + timedelta(minutes=minutes))) == 1
    assert Transition.objects.filter(monitor=push_monitor, to_state="down").exists()
    ping_record(Ping(push_monitor.push_token, PingKind.SUCCESS), now=now + timedelta(minutes=17))
    assert Transition.objects.filter(monitor=push_monitor, to_state="up").exists()


def test_a_disabled_push_monitor_has_no_deadline_and_edits_keep_the_token(push_monitor, now):
    token = push_monitor.push_token
    later = now + timedelta(minutes=1)
    monitor_update(
        push_monitor, now=later, name="backup", kind="push", target="nightly backup",
        interval="5m", rule="", enabled=False, properties={"grace": "1m"},
    )  # fmt: skip
    monitor = Monitor.objects.get(pk=push_monitor.pk)
    assert (monitor.push_token, monitor.next_run_at) == (token, None)
    assert ping_record(Ping(token, PingKind.SUCCESS), now=later)  # still recorded
    assert Monitor.objects.get(pk=push_monitor.pk).next_run_at is None
    assert timezone.is_aware(results(push_monitor)[-1].date)


def test_a_cron_schedule_sets_the_deadlines_in_its_time_zone(make_monitor, now, client):
    # now is 2026-11-21 12:00 UTC = 13:00 in Berlin; the job runs daily at 02:30 Berlin time.
    monitor = make_monitor(
        name="nightly", kind="push", target="job", interval="24h",
        properties={"schedule": "30 2 * * *", "tz": "Europe/Berlin", "grace": "1h"},
    )  # fmt: skip
    first = datetime(2026, 11, 22, 1, 30, tzinfo=UTC) + timedelta(hours=1)  # 02:30 CET + grace
    assert monitor.next_run_at == first
    (missed,) = run_due(first)
    assert missed.message == "no ping for schedule 30 2 * * * (Europe/Berlin) (+1h grace)"
    assert Monitor.objects.get(pk=monitor.pk).next_run_at == first + timedelta(days=1)
    # A ping at 02:40 Berlin the next night: due again the night after, plus the grace.
    pinged_at = datetime(2026, 11, 23, 1, 40, tzinfo=UTC)
    assert ping_record(Ping(monitor.push_token, PingKind.SUCCESS), now=pinged_at)
    assert Monitor.objects.get(pk=monitor.pk).next_run_at == datetime(
        2026, 11, 24, 2, 30, tzinfo=UTC
    )


def test_after_a_stopped_dispatcher_one_missed_run_and_the_next_deadline_to_come(push_monitor, now):
    late = now + timedelta(hours=2)  # 5m period: many deadlines passed unrun
    assert len(run_due(late)) == 1
    following = Monitor.objects.get(pk=push_monitor.pk).next_run_at
    assert late < following <= late + timedelta(minutes=5)
    assert run_due(late + timedelta(seconds=1)) == []


def test_bad_schedules_are_refused_naming_the_property(make_monitor):
    from django.core.exceptions import ValidationError

    for properties, words in [
        ({"schedule": "61 * * * *"}, "minute: 61 is outside 0-59"),
        ({"schedule": "@daily", "tz": "Mars/Olympus"}, "unknown time zone"),
    ]:
        with pytest.raises(ValidationError, match=words):
            make_monitor(kind="push", target="job", interval="1h", properties=properties)
