"""The list and export bodies (monitors/api/listing.py) are built from rows, and on PostgreSQL
by the database, for speed: they must be exactly what the serializers give, masking included."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from monitors.api.listing import monitors_data, monitors_json
from monitors.api.serializers import ExportedMonitorSerializer, MonitorSerializer
from monitors.models import Monitor
from monitors.secrets import MASK
from monitors.selectors import monitors_list
from results.models import MonitorState

pytestmark = pytest.mark.django_db

SECRET_HEADERS = '{"Authorization": "Bearer s3cret", "Accept": "text/plain"}'


@pytest.fixture
def assorted(make_monitor, now):
    """Monitors that exercise every column: odd text, dates with and without microseconds,
    no state row, a state without a run, disabled, a secret header and a plain secret."""
    monitors = [
        make_monitor(name='quote " backslash \\ tab \t nul-free ü 🚀 </script>'),
        make_monitor(name="secret", properties={"headers": SECRET_HEADERS, "timeout": "2s"}),
        make_monitor(name="not json"),
        make_monitor(name="off", kind="tcp", target="127.0.0.1:9", enabled=False),
        make_monitor(name="dns", kind="dns", target="localhost", rule="respTime < 500"),
        make_monitor(name="line\nbreak\x01control", interval="1.5h"),
        make_monitor(
            name="credentials",
            target="https://bot:pa55@127.0.0.1:9/send?chat=1&token=t0k",
            properties={"method": "POST", "body": "password=hunter2"},
        ),
    ]
    MonitorState.objects.filter(monitor=monitors[0]).update(
        last_status=2, last_run_at=now + timedelta(microseconds=1234)
    )
    MonitorState.objects.filter(monitor=monitors[4]).update(last_status=0, last_run_at=now)
    MonitorState.objects.filter(monitor=monitors[1]).delete()
    Monitor.objects.filter(pk=monitors[3].pk).update(updated_at=now.replace(microsecond=0))
    # Saved before headers had to be a JSON object: masked whole.
    Monitor.objects.filter(pk=monitors[2].pk).update(properties={"headers": "Bearer raw"})
    return monitors


@pytest.mark.parametrize("reveal_secrets", [True, False])
def test_rows_give_what_the_serializers_give(assorted, reveal_secrets):
    context = {"reveal_secrets": reveal_secrets}
    queryset = monitors_list()

    listed = monitors_data(queryset, reveal_secrets=reveal_secrets)
    exported = monitors_data(queryset, reveal_secrets=reveal_secrets, exported=True)

    assert listed == MonitorSerializer(queryset, many=True, context=context).data
    assert exported == ExportedMonitorSerializer(queryset, many=True, context=context).data


@pytest.mark.parametrize("reveal_secrets", [True, False])
def test_the_database_writes_the_same_document(assorted, reveal_secrets):
    body = monitors_json(monitors_list(), reveal_secrets=reveal_secrets)

    assert json.loads(body) == monitors_data(monitors_list(), reveal_secrets=reveal_secrets)


def test_no_monitors_is_an_empty_array():
    assert monitors_json(monitors_list(), reveal_secrets=True) == b"[]"


@pytest.mark.parametrize(
    ("persona", "revealed"), [("admin", True), ("editor", True), ("viewer", False)]
)
def test_the_list_route_masks_secrets_for_readers_who_may_not_change(
    request, assorted, persona, revealed
):
    response = request.getfixturevalue(persona).get("/api/monitors")

    assert response["Content-Type"] == "application/json"
    listed = {item["name"]: item for item in response.json()}
    assert listed == {
        item["name"]: item for item in monitors_data(monitors_list(), reveal_secrets=revealed)
    }
    headers = json.loads(listed["secret"]["properties"]["headers"])
    assert headers["Authorization"] == ("Bearer s3cret" if revealed else MASK)
    assert listed["not json"]["properties"]["headers"] == ("Bearer raw" if revealed else MASK)
    assert listed["secret"]["properties"]["timeout"] == "2s"
    credentials = listed["credentials"]
    assert credentials["target"] == (
        "https://bot:pa55@127.0.0.1:9/send?chat=1&token=t0k"
        if revealed
        else f"https://{MASK}@127.0.0.1:9/send?chat=1&token={MASK}"
    )
    assert credentials["properties"]["body"] == ("password=hunter2" if revealed else MASK)


def test_the_list_route_filters_before_writing(admin, assorted):
    body = admin.get("/api/monitors?type=tcp").json()
    assert [item["name"] for item in body] == ["off"]
    assert body[0]["updated"].endswith(":00Z")  # whole second: no fraction, as DRF writes it


def test_the_listed_definition_follows_every_write_path(admin, make_monitor, now):
    """The trigger keeps ``listed_json`` right whether Django's save, a queryset update or
    an import wrote the row; the dispatcher's claims do not touch it."""
    monitor = make_monitor(name="before")
    Monitor.objects.filter(pk=monitor.pk).update(
        name="renamed", properties={"timeout": "9s"}, enabled=False
    )
    admin.post(
        "/api/monitors/import",
        [{"name": "imported", "type": "tcp", "interval": "1m", "target": "127.0.0.1:9"}],
        format="json",
    )
    Monitor.objects.filter(pk=monitor.pk).update(next_run_at=now, lease_until=now)

    body = json.loads(monitors_json(monitors_list(), reveal_secrets=True))

    assert body == monitors_data(monitors_list(), reveal_secrets=True)
    assert [(item["name"], item["enabled"]) for item in body] == [
        ("imported", False),
        ("renamed", False),
    ]
    assert body[1]["properties"] == {"timeout": "9s"}
