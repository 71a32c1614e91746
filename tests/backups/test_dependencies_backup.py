"""Dependencies and canary flags in backups, kept with the child's alert policy record
(``depends_on``, ``canary``): written, restored; files from before them restore none; a parent
not in the file, or the monitor itself, is refused naming the line."""

from __future__ import annotations

import json

import pytest

from alerts.dependencies import dependencies_set, is_canary, parents_of
from alerts.models import Dependency
from backups.dump import backup_chunks
from backups.records import CONFIG
from tests.backups.test_escalation_backup import policy_record, post

pytestmark = pytest.mark.django_db


def config_backup() -> bytes:
    return b"".join(backup_chunks(CONFIG, monitor_secrets=True, channel_secrets=True))


@pytest.fixture
def depending(make_monitor):
    gateway = make_monitor(name="gateway", kind="tcp", target="127.0.0.1:22")
    host = make_monitor(name="host", kind="tcp", target="127.0.0.2:22")
    dependencies_set(host, parents=[gateway.pk], canary=True)
    return gateway, host


def test_dependencies_and_the_canary_flag_round_trip(depending, admin):
    gateway, host = depending
    body = config_backup()
    record = policy_record(body)
    assert (record["monitor"], record["depends_on"], record["canary"]) == (
        host.pk,
        [gateway.pk],
        True,
    )
    dependencies_set(host, parents=[], canary=False)

    assert post(admin, body).status_code == 200

    assert parents_of(host.pk) == [gateway]
    assert is_canary(host.pk)


def test_a_file_from_before_dependencies_restores_without_them(depending, admin):
    _, host = depending
    lines = []
    for line in config_backup().splitlines():
        record = json.loads(line)
        if record["record"] == "policy":
            del record["depends_on"], record["canary"]
        lines.append(json.dumps(record).encode())

    assert post(admin, b"\n".join(lines) + b"\n").status_code == 200

    assert Dependency.objects.count() == 0
    assert not is_canary(host.pk)


@pytest.mark.parametrize("parent", ["99999", "itself"])
def test_a_parent_not_in_the_file_or_the_monitor_itself_is_refused(depending, admin, parent):
    _, host = depending
    lines = []
    for line in config_backup().splitlines():
        record = json.loads(line)
        if record["record"] == "policy":
            record["depends_on"] = [host.pk if parent == "itself" else int(parent)]
        lines.append(json.dumps(record).encode())

    answer = post(admin, b"\n".join(lines) + b"\n")

    assert answer.status_code == 400
    why = "is itself" if parent == "itself" else "is not in the file"
    assert (
        f"field 'depends_on': monitor {host.pk if parent == 'itself' else parent} {why}"
        in (answer.json()["detail"])
    )
