"""Maintenance windows in backups (``window`` records, after the policies): every schedule
written and restored equal, through the API and the commands; a window naming a monitor not in
the file, or one its rules refuse, is refused naming the line and the field, nothing changed;
a file from before windows restores with none. And policies whose ``depends_on`` form a cycle
are refused naming the line (the API's rule, ``alerts.dependencies.cycle_parents``)."""

from __future__ import annotations

import io
import json
from datetime import time, timedelta
from pathlib import Path

import pytest
from django.core.management import call_command

from alerts.configuration import alert_policy_set
from alerts.dependencies import dependencies_set
from alerts.maintenance import window_save
from alerts.models import Dependency, MaintenanceWindow
from backups.dump import backup_chunks
from backups.records import CONFIG, FULL
from tests.backups.conftest import current_state, records

pytestmark = pytest.mark.django_db

CONFIG_RECORDS = ["channel", "monitor", "policy", "window"]


def post(client, path: str, body: bytes):
    return client.generic("POST", path, body, content_type="application/x-ndjson")


def windows_now() -> list[dict]:
    """Every window's columns, its chosen monitors and its dates, by id."""
    return [
        {
            **{
                field.attname: getattr(window, field.attname)
                for field in MaintenanceWindow._meta.concrete_fields
            },
            "monitors": sorted(window.monitors.values_list("pk", flat=True)),
        }
        for window in MaintenanceWindow.objects.order_by("pk")
    ]


def lines_of(body: bytes) -> list[bytes]:
    return [line for line in body.split(b"\n") if line.strip()]


def line_of(body: bytes, record_type: str, index: int = 0) -> int:
    numbers = [
        number
        for number, line in enumerate(body.split(b"\n"), start=1)
        if line.startswith(b'{"record":"' + record_type.encode() + b'"')
    ]
    return numbers[index]


def edited(body: bytes, number: int, change) -> bytes:
    lines = body.split(b"\n")
    record = json.loads(lines[number - 1])
    change(record)
    lines[number - 1] = json.dumps(record).encode()
    return b"\n".join(lines)


@pytest.fixture
def windows(installation, now):
    """A window of each schedule: once (chosen monitors), weekly (a zone, tags, bounded),
    monthly (every monitor), cron (chosen monitors and a tag)."""
    web, tcp = installation["web"], installation["tcp"]
    made = [
        (
            MaintenanceWindow(
                name="deploy",
                reason="release 4.2",
                starts_at=now + timedelta(hours=2),
                ends_at=now + timedelta(hours=3, microseconds=250),
            ),
            [web.pk],
        ),
        (
            MaintenanceWindow(
                name="backups at night",
                schedule=MaintenanceWindow.Schedule.WEEKLY,
                weekdays=[6, 1, 3],
                start_time=time(2, 30),
                duration_minutes=90,
                time_zone="Europe/Berlin",
                tags=["db", "prod"],  # as the API and the page store them (tags_normalized)
                starts_at=now - timedelta(days=3),
            ),
            [],
        ),
        (
            MaintenanceWindow(
                name="patch day",
                schedule=MaintenanceWindow.Schedule.MONTHLY,
                days_of_month=[1, 15, 31],
                start_time=time(23, 0, 5),
                duration_minutes=60,
                time_zone="America/New_York",
                all_monitors=True,
            ),
            [],
        ),
        (
            MaintenanceWindow(
                name="edge reloads",
                schedule=MaintenanceWindow.Schedule.CRON,
                cron="*/30 2 * * sat",
                duration_minutes=20,
                time_zone="Asia/Kolkata",
                tags=["edge"],
                ends_at=now + timedelta(days=60),
            ),
            [tcp.pk, web.pk],
        ),
    ]
    for window, monitors in made:
        window_save(window, monitors=monitors)
    return [window for window, _ in made]


@pytest.mark.parametrize("path", ["/api/backup", "/api/backup_full"])
def test_windows_of_every_schedule_round_trip_through_the_api(admin, windows, path):
    before = windows_now()
    body = b"".join(admin.get(path).streaming_content)
    header, end = records(body)[0], records(body)[-1]
    assert header["records"][:4] == CONFIG_RECORDS
    assert end["counts"]["window"] == 4
    weekly = next(r for r in records(body) if r["record"] == "window" and r["schedule"] == "weekly")
    assert weekly["start_time"] == "02:30:00"
    assert weekly["starts_at"].endswith("Z")
    assert weekly["tags"] == ["db", "prod"]
    # Changed afterwards: one deleted, one edited, one added.
    windows[0].delete()
    windows[1].time_zone = "UTC"
    window_save(windows[1], monitors=[])
    end = windows[3].ends_at
    window_save(MaintenanceWindow(name="later", starts_at=end, ends_at=end + timedelta(hours=1)))

    answer = post(admin, path, body)

    assert answer.status_code == 200, answer.content
    assert answer.json()["restored"]["window"] == 4
    assert windows_now() == before
    new = MaintenanceWindow(name="after", schedule="cron", cron="0 1 * * *", duration_minutes=5)
    window_save(new)  # the id sequence moved past the restored ids
    assert new.pk > max(window["id"] for window in before)


def test_windows_round_trip_through_the_commands(windows, tmp_path: Path):
    before = windows_now()
    path = tmp_path / "backup.jsonl"
    call_command("backup", "--full", "--output", str(path), stderr=io.StringIO())
    MaintenanceWindow.objects.all().delete()
    said = io.StringIO()

    call_command("restore", str(path), "--yes", stderr=said)

    assert windows_now() == before
    assert "4 window" in said.getvalue()
    file = records(path.read_bytes())
    assert file[0]["records"][:4] == CONFIG_RECORDS
    assert file[-1]["counts"]["window"] == 4


def test_the_header_and_the_end_count_windows_even_when_there_are_none(installation):
    for kind in (CONFIG, FULL):
        lines = records(b"".join(backup_chunks(kind, monitor_secrets=True, channel_secrets=True)))
        assert lines[0]["records"][:4] == CONFIG_RECORDS
        assert lines[-1]["counts"]["window"] == 0
    assert lines[0]["records"][4:] == ["state", "result", "rollup"]


def _stray_monitor(record):
    record["monitors"] = [*record["monitors"], 99999]


def _weekly_without_weekdays(record):
    record.update(schedule="weekly", weekdays=[], start_time="02:00:00", duration_minutes=30)


def _unknown_zone(record):
    record["time_zone"] = "Mars/Olympus_Mons"


def _once_without_end(record):
    record.update(schedule="once", ends_at=None)


def _bad_cron(record):
    record.update(schedule="cron", cron="every tuesday", duration_minutes=10)


def _too_long(record):
    record.update(schedule="cron", cron="0 1 * * *", duration_minutes=8 * 24 * 60)


def _bad_time(record):
    record["start_time"] = "25:61"


def _tag(record):
    record["tags"] = ["not a tag!"]


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        (_stray_monitor, "window record: field 'monitors': monitor 99999 is not in the file"),
        (_weekly_without_weekdays, "window record: field 'weekdays': choose at least one weekday"),
        (_unknown_zone, "window record: field 'time_zone': unknown time zone 'Mars/Olympus_Mons'"),
        (_once_without_end, "window record: field 'ends_at': a one-off window needs an end"),
        (_bad_cron, "window record: field 'cron': "),
        (_too_long, "window record: field 'duration_minutes': "),
        (_bad_time, "window record: field 'start_time' must be null or a time"),
        (_tag, "window record: field 'tags': tag 'not a tag!' is not valid"),
    ],
)
def test_a_bad_window_is_refused_naming_its_line_and_field_and_nothing_changes(
    admin, windows, damage, words
):
    body = b"".join(admin.get("/api/backup_full").streaming_content)
    line = line_of(body, "window", 0)  # the one-off window, with a chosen monitor
    damaged = edited(body, line, damage)
    before, windows_before = current_state(), windows_now()

    answer = post(admin, "/api/backup_full", damaged)

    assert answer.status_code == 400, answer.content
    problem = answer.json()
    assert problem["line"] == line
    assert problem["detail"].startswith(f"line {line}: {words}")
    assert current_state() == before
    assert windows_now() == windows_before


def test_a_file_from_before_windows_restores_with_none(admin, windows):
    """As with every other record: the backup becomes the state, so the windows there are
    deleted (a restore always replaces)."""
    body = b"".join(admin.get("/api/backup").streaming_content)
    old = []
    for line in lines_of(body):
        record = json.loads(line)
        if record["record"] == "window":
            continue
        if record["record"] == "header":
            record["records"] = ["channel", "monitor", "policy"]
        if record["record"] == "end":
            del record["counts"]["window"]
        old.append(json.dumps(record).encode())

    answer = post(admin, "/api/backup", b"\n".join(old) + b"\n")

    assert answer.status_code == 200, answer.content
    assert answer.json()["restored"] == {"channel": 2, "monitor": 2, "policy": 1}
    assert MaintenanceWindow.objects.count() == 0
    assert not MaintenanceWindow.monitors.through.objects.exists()


def test_an_end_count_that_leaves_windows_out_is_refused(admin, windows):
    body = b"".join(admin.get("/api/backup").streaming_content)
    end = len(lines_of(body))

    answer = post(admin, "/api/backup", edited(body, end, lambda r: r["counts"].pop("window")))

    assert answer.status_code == 400
    assert answer.json()["line"] == end
    assert "says 0 window records, the file holds 4" in answer.json()["detail"]
    assert MaintenanceWindow.objects.count() == 4


@pytest.fixture
def chain(make_monitor):
    """a → b → c (each depends on the next), every one with a policy."""
    a, b, c = (
        make_monitor(name=name, kind="tcp", target=f"127.0.0.{index}:22")
        for index, name in enumerate("abc", start=1)
    )
    dependencies_set(a, parents=[b.pk])
    dependencies_set(b, parents=[c.pk])
    alert_policy_set(c, fail_threshold=2)
    return a, b, c


@pytest.mark.parametrize(
    ("shape", "words"),
    [
        # c (the last policy) depends on a: a → b → c → a.
        ("through others", "that would be a cycle: monitor {a} already depends on monitor {c}"),
        # b depends on a as well as on c: a → b → a.
        ("two", "that would be a cycle: monitor {a} already depends on monitor {b}"),
        # a depends on itself.
        ("itself", "monitor {a} is itself (a monitor cannot depend on itself)"),
    ],
)
def test_dependencies_forming_a_cycle_are_refused_naming_the_line(admin, chain, shape, words):
    a, b, c = chain
    body = b"".join(backup_chunks(CONFIG, monitor_secrets=True, channel_secrets=True))
    policies = {json.loads(lines_of(body)[n - 1])["monitor"]: n for n in _policy_lines(body)}
    child, parent = {"through others": (c, a), "two": (b, a), "itself": (a, a)}[shape]
    line = policies[child.pk]
    damaged = edited(body, line, lambda r: r.update(depends_on=[*r["depends_on"], parent.pk]))
    before = current_state()

    answer = post(admin, "/api/backup", damaged)

    assert answer.status_code == 400, answer.content
    problem = answer.json()
    assert problem["line"] == line
    expected = words.format(a=a.pk, b=b.pk, c=c.pk)
    assert problem["detail"] == f"line {line}: policy record: field 'depends_on': " + (
        expected
        + (
            ""
            if shape == "itself"
            else " (directly or through others, by the policies above this line)"
        )
    )
    assert current_state() == before
    assert Dependency.objects.count() == 2


def _policy_lines(body: bytes) -> list[int]:
    return [
        number
        for number, line in enumerate(body.split(b"\n"), start=1)
        if line.startswith(b'{"record":"policy"')
    ]


def test_dependencies_without_a_cycle_restore(admin, chain):
    """A diamond (a → b, a → c, b → c) is no cycle, whatever the order of the policies."""
    a, b, c = chain
    dependencies_set(a, parents=[b.pk, c.pk])
    body = b"".join(backup_chunks(CONFIG, monitor_secrets=True, channel_secrets=True))

    assert post(admin, "/api/backup", body).status_code == 200

    assert sorted(Dependency.objects.values_list("child_id", "parent_id")) == [
        (a.pk, b.pk),
        (a.pk, c.pk),
        (b.pk, c.pk),
    ]
