"""/api/backup and /api/backup_full: downloads streamed as attachments with secrets only for
those who may see them, restores all or nothing, refusals that name the line."""

from __future__ import annotations

import json
import logging

import pytest
from django.http import StreamingHttpResponse
from django.utils import timezone

from accounts.roles import ADMIN, role_group
from backups.records import MAX_LINE_BYTES
from monitors.models import Monitor
from monitors.services import monitor_create
from results.models import MonitorState, Result
from tests.backups.conftest import SECRETS, current_state, records
from tests.support.api import token_client
from tests.support.personas import user_with


def body_of(response) -> bytes:
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content)


def post(client, path: str, body: bytes):
    return client.generic("POST", path, body, content_type="application/x-ndjson")


@pytest.fixture
def admin_role(db):
    """A user with the admin role (not a superuser)."""
    user = user_with("role-admin", [])
    user.groups.add(role_group(ADMIN))
    return token_client(user)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "kind"), [("/api/backup", "config"), ("/api/backup_full", "full")]
)
def test_a_backup_is_a_streamed_attachment_with_its_header_and_end(admin, installation, path, kind):
    response = admin.get(path)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-ndjson"
    assert response["Content-Disposition"].startswith('attachment; filename="nanomon-backup')
    lines = records(body_of(response))
    header, end = lines[0], lines[-1]
    assert header["record"] == "header"
    assert header["format"] == "nanomon-backup"
    assert header["version"] == 1
    assert header["kind"] == kind
    assert header["database"] == "postgresql"
    assert header["nanomon"]
    assert header["secrets"] == {"monitors": "encrypted", "channels": "encrypted"}
    expected = {"channel": 2, "monitor": 2, "policy": 1, "window": 0}
    types = ["channel", "monitor", "policy", "window"]
    if kind == "full":
        expected |= {"state": 2, "result": 60, "rollup": 1}
        types += ["state", "result", "rollup"]
    assert header["records"] == types
    assert end["counts"] == expected
    monitor = next(line for line in lines if line["record"] == "monitor")
    assert set(monitor) == {"record", "id", "name", "type", "interval", "target", "rule"} | {
        "enabled",
        "properties",
        "created",
        "updated",
        "group",
        "tags",
    }


@pytest.mark.django_db
def test_secrets_only_for_those_who_may_see_them(admin, admin_role, editor, viewer, installation):
    for client, monitors, channels in (
        (viewer, "masked", "masked"),
        (editor, "encrypted", "masked"),
        (admin_role, "encrypted", "encrypted"),
        (admin, "encrypted", "encrypted"),
    ):
        body = body_of(client.get("/api/backup_full"))
        header = records(body)[0]
        assert header["secrets"] == {"monitors": monitors, "channels": channels}
        text = body.decode()
        # A target's credentials are not sealed at rest: in full for those who may see them.
        assert ("s3cret-token" in text) == (monitors == "encrypted")
        # Secret properties and channel secrets: sealed (enc:v1:…) or masked, never plaintext.
        assert not [secret for secret in SECRETS[2:] if secret in text]
        assert ("enc:v1:" in text) == (monitors == "encrypted")
        if monitors == channels == "masked":
            assert not [secret for secret in SECRETS if secret in text]


@pytest.mark.django_db
def test_secrets_in_plaintext_only_when_an_admin_asks(admin_role, editor, viewer, installation):
    body = body_of(admin_role.get("/api/backup_full?secrets=plain"))

    header = records(body)[0]
    assert header["secrets"] == {"monitors": "included", "channels": "included"}
    text = body.decode()
    assert [secret for secret in SECRETS if secret in text] == list(SECRETS)
    assert "enc:v1:" not in text
    for client in (editor, viewer):
        response = client.get("/api/backup?secrets=plain")
        assert response.status_code == 403
        assert response.json()["detail"] == "a backup with secrets in plaintext is for admins"
    assert admin_role.get("/api/backup?secrets=yes").status_code == 400


@pytest.mark.django_db
def test_backups_are_never_public(anonymous, public_read, installation):
    assert anonymous.get("/api/backup").status_code == 401
    assert post(anonymous, "/api/backup", b"").status_code == 401


@pytest.mark.django_db
def test_a_restore_needs_the_admin_role(editor, viewer, admin, installation):
    body = body_of(admin.get("/api/backup"))

    for client in (editor, viewer):
        response = post(client, "/api/backup", body)
        assert response.status_code == 403
        assert "admin role" in response.json()["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/backup", "/api/backup_full"])
def test_a_restore_makes_the_backup_the_state(admin_role, installation, make_monitor, path):
    body = body_of(admin_role.get(path))  # secrets sealed: restored where a key opens them
    before = records(body_of(admin_role.get(path + "?secrets=plain")))[1:]
    make_monitor(name="added later")
    installation["hook"].delete()

    response = post(admin_role, path, body)

    assert response.status_code == 200, response.content
    assert response.json()["restored"]["monitor"] == 2
    after = current_state()
    if path == "/api/backup":
        config = {"channel", "monitor", "policy", "window"}
        after = [line for line in after if line["record"] in config]
        assert Result.objects.count() == 0  # a config restore clears the history
    assert [line for line in after if line["record"] != "end"] == before[:-1]


@pytest.mark.django_db
def test_a_full_restore_schedules_monitors_afresh_and_moves_the_sequences(admin, installation):
    web = installation["web"]
    Monitor.objects.filter(pk=web.pk).update(
        lease_until=timezone.now(), run_token="6b1c2d9e-0000-4000-8000-000000000000"
    )
    body = body_of(admin.get("/api/backup_full"))
    started = timezone.now()

    assert post(admin, "/api/backup_full", body).status_code == 200

    web = Monitor.objects.get(pk=web.pk)
    assert web.next_run_at >= started
    assert web.lease_until is None
    assert web.run_token is None
    assert Monitor.objects.get(pk=installation["tcp"].pk).next_run_at is None
    assert MonitorState.objects.filter(monitor__in=[web, installation["tcp"]]).count() == 2
    new = monitor_create(name="after", kind="tcp", target="127.0.0.1:22", interval="1m")
    assert new.pk > installation["tcp"].pk


def _cut_mid_line(body: bytes) -> bytes:
    return body[: body.rindex(b'"record":"result"') + 20]


def _without_end(body: bytes) -> bytes:
    return body[: body.rindex(b'{"record":"end"')]


def _replace_line(body: bytes, number: int, change) -> bytes:
    lines = body.split(b"\n")
    record = json.loads(lines[number - 1])
    change(record)
    lines[number - 1] = json.dumps(record).encode()
    return b"\n".join(lines)


def _line_of(body: bytes, record_type: str, index: int = 0) -> int:
    numbers = [
        number
        for number, line in enumerate(body.split(b"\n"), start=1)
        if line.startswith(b'{"record":"' + record_type.encode() + b'"')
    ]
    return numbers[index]


def _duplicate_monitor(body: bytes) -> bytes:
    line = _line_of(body, "monitor", 1)
    first = json.loads(body.split(b"\n")[_line_of(body, "monitor") - 1])
    return _replace_line(body, line, lambda record: record.update(id=first["id"]))


def _bad_interval(body: bytes) -> bytes:
    return _replace_line(body, _line_of(body, "monitor"), lambda r: r.update(interval="banana"))


def _bad_status(body: bytes) -> bytes:
    return _replace_line(body, _line_of(body, "result", 5), lambda r: r.update(status=9))


def _stray_result(body: bytes) -> bytes:
    return _replace_line(body, _line_of(body, "result", 3), lambda r: r.update(monitor=999999))


def _wrong_version(body: bytes) -> bytes:
    return _replace_line(body, 1, lambda r: r.update(version=99))


def _wrong_format(body: bytes) -> bytes:
    return _replace_line(body, 1, lambda r: r.update(format="gosrvmon"))


def _huge_id(body: bytes) -> bytes:
    last = body.count(b'"record":"result"') - 1
    return _replace_line(body, _line_of(body, "result", last), lambda r: r.update(id=2**63))


def _two_builtins(body: bytes) -> bytes:
    return _replace_line(
        body, _line_of(body, "channel", 1), lambda r: r.update(builtin="settings-email", config={})
    )


def _one_line(body: bytes) -> bytes:
    return body.replace(b"\n", b"")  # what curl -d does to a file


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("damage", "line", "words"),
    [
        (_cut_mid_line, "last", "not JSON"),
        (_without_end, "after", "without its end record"),
        (_wrong_version, 1, "field 'version' is 99"),
        (_wrong_format, 1, "field 'format'"),
        (_bad_interval, "monitor", "monitor record: invalid monitor interval"),
        (_bad_status, "result5", "result record: field 'status'"),
        (_duplicate_monitor, "monitor1", "field 'id' is duplicate"),
        (_stray_result, "result3", "monitor 999999 is not in the file"),
        (_one_line, 1, "--data-binary"),
        (_huge_id, "after results", "the database refused a record"),
        (_two_builtins, "channel1", "a second built-in channel"),
    ],
)
def test_a_bad_file_is_refused_naming_its_line_and_nothing_changes(
    admin, installation, damage, line, words
):
    body = body_of(admin.get("/api/backup_full"))
    damaged = damage(body)
    expected_line = {
        "last": damaged.count(b"\n") + 1,
        "after": damaged.count(b"\n") + 1,
        "monitor": _line_of(body, "monitor"),
        "monitor1": _line_of(body, "monitor", 1),
        "result5": _line_of(body, "result", 5),
        "result3": _line_of(body, "result", 3),
        "channel1": _line_of(body, "channel", 1),
        # The results' last group is written when the next type's first line is read.
        "after results": _line_of(body, "result", body.count(b'"record":"result"') - 1) + 1,
    }.get(line, line)
    before = current_state()

    response = post(admin, "/api/backup_full", damaged)

    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["line"] == expected_line
    assert problem["detail"].startswith(f"line {expected_line}: ")
    assert words in problem["detail"]
    assert current_state() == before


@pytest.mark.django_db
def test_a_backup_without_secrets_is_refused_where_a_secret_is_masked(admin, viewer, installation):
    body = body_of(viewer.get("/api/backup"))
    before = current_state()

    response = post(admin, "/api/backup", body)

    assert response.status_code == 400
    assert "masked secret" in response.json()["detail"]
    assert response.json()["line"] == 3  # the webhook channel (line 2: the built-in one)
    assert current_state() == before


@pytest.mark.django_db
def test_each_route_takes_its_own_kind(admin, installation):
    full = body_of(admin.get("/api/backup_full"))

    response = post(admin, "/api/backup", full)

    assert response.status_code == 400
    assert "send it to /api/backup_full" in response.json()["detail"]


@pytest.mark.django_db
def test_an_overlong_line_is_refused_without_reading_it_whole(admin, installation, settings):
    body = body_of(admin.get("/api/backup"))
    header = body.split(b"\n", 1)[0] + b"\n"
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024  # the restore reads a stream, not request.body

    response = post(admin, "/api/backup", header + b"x" * (MAX_LINE_BYTES + 10) + b"\n")

    assert response.status_code == 400
    assert response.json()["line"] == 2
    assert "longer than" in response.json()["detail"]


@pytest.mark.django_db
def test_no_secret_in_the_logs(admin, installation, caplog):
    caplog.set_level(logging.DEBUG)
    body = body_of(admin.get("/api/backup_full"))
    post(admin, "/api/backup_full", body)
    post(admin, "/api/backup_full", _bad_interval(body))

    assert [secret for secret in SECRETS if secret in caplog.text] == []
