"""Import (all or nothing, append or replace) and export (a lossless round trip)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from monitors.imports import monitors_import
from monitors.models import Monitor
from monitors.secrets import MASK, revealed_properties
from results.models import MonitorState, Result
from tests.support.api import http_monitor

pytestmark = pytest.mark.django_db

NANOMON_IMPORT = [
    {
        "name": "Test Health",
        "type": "http",
        "interval": "20s",
        "target": "http://localhost:8000/health",
        "enabled": True,
    },
    {
        "name": "Test Status",
        "type": "http",
        "interval": "5s",
        "target": "http://localhost:8000/status",
        "enabled": True,
    },
]

ASSORTED = [
    http_monitor(name=" padded ", interval="1.5h", rule="status == 200 && respTime < 500"),
    {"name": "db", "type": "tcp", "interval": "1m", "target": "[::1]:5432", "enabled": False,
     "rule": "", "properties": {"timeout": "500ms"}, "group": "Databases",
     "tags": ["db", "prod"]},
    {"name": "gw", "type": "ping", "interval": "10s", "target": "192.0.2.1", "enabled": True,
     "rule": "packetLoss == 0", "properties": {"count": "5", "interval": "200ms"}},
    {"name": "dns", "type": "dns", "interval": "1h30m", "target": "example.test", "enabled": True,
     "rule": "'192.0.2.7' IN (result1, result2)", "properties": {"type": "MX"}},
    http_monitor(name="api", properties={"headers": '{"Authorization": "Bearer t0ken"}',
                                         "method": "POST", "body": "{\"q\": 1}"}),
]  # fmt: skip


def test_nanomons_import_answers_204_and_creates_the_monitors_scheduled(admin):
    response = admin.post("/api/monitors/import", NANOMON_IMPORT, format="json")

    assert response.status_code == 204
    assert response.content == b""
    monitors = list(Monitor.objects.order_by("id"))
    assert [monitor.name for monitor in monitors] == ["Test Health", "Test Status"]
    assert all(monitor.next_run_at is not None for monitor in monitors)
    assert MonitorState.objects.count() == 2


def test_a_bad_element_stores_nothing_and_names_the_element_and_reason(admin, make_monitor):
    make_monitor(name="existing")
    items = [*NANOMON_IMPORT, {**NANOMON_IMPORT[0], "name": ""}]

    response = admin.post("/api/monitors/import", items, format="json")

    assert response.status_code == 400
    assert response.json()["detail"] == "monitor 3: missing monitor name"
    assert list(Monitor.objects.values_list("name", flat=True)) == ["existing"]


@pytest.mark.parametrize(
    ("element", "detail"),
    [
        ({**NANOMON_IMPORT[0], "interval": "5ms"}, "monitor 2: monitor interval must be"),
        ({**NANOMON_IMPORT[0], "enabled": "yes"}, "monitor 2: enabled: must be true or false"),
        ("not a monitor", "monitor 2: Invalid data. Expected a dictionary"),
        ({**NANOMON_IMPORT[0], "name": "n" * 201}, "monitor 2: name must be at most 200"),
        ({**NANOMON_IMPORT[0], "properties": {"x": "1"}}, "monitor 2: property 'x': unknown"),
        (
            {**NANOMON_IMPORT[0], "type": "tcp", "target": "no-port-here"},
            "monitor 2: invalid monitor target: missing port: use host:port (target "
            "'no-port-here'; expected host:port or [IPv6 address]:port)",
        ),
        (
            {**NANOMON_IMPORT[0], "rule": "stauts == 200"},
            "monitor 2: rule invalid: 'stauts' is not an output of type http",
        ),
        ({**NANOMON_IMPORT[0], "rule": "status + 1"}, "monitor 2: rule invalid: the rule gives"),
    ],
)
def test_the_first_bad_element_is_reported_whatever_is_wrong_with_it(admin, element, detail):
    response = admin.post("/api/monitors/import", [NANOMON_IMPORT[0], element], format="json")

    assert response.status_code == 400
    assert response.json()["detail"].startswith(detail)
    assert not Monitor.objects.exists()


def test_an_import_body_that_is_not_an_array_is_a_400(admin):
    response = admin.post("/api/monitors/import", NANOMON_IMPORT[0], format="json")

    assert response.status_code == 400
    assert response.json()["detail"] == "the body must be a JSON array of monitors"


def test_an_unknown_import_mode_is_a_400(admin):
    response = admin.post("/api/monitors/import?mode=merge", [], format="json")

    assert response.status_code == 400
    assert response.json()["detail"] == "mode must be append or replace"


def test_append_mode_keeps_existing_monitors(admin, make_monitor):
    make_monitor(name="existing")

    admin.post("/api/monitors/import?mode=append", NANOMON_IMPORT, format="json")

    assert Monitor.objects.count() == 3


def test_replace_mode_swaps_every_monitor_and_their_results(admin, make_monitor, now):
    old = make_monitor(name="old")
    Result.objects.create(
        monitor=old, monitor_name="old", monitor_target="t", date=now, scheduled_for=now, status=0
    )

    response = admin.post("/api/monitors/import?mode=replace", NANOMON_IMPORT, format="json")

    assert response.status_code == 204
    assert sorted(Monitor.objects.values_list("name", flat=True)) == ["Test Health", "Test Status"]
    assert not Result.objects.exists()


def test_a_failed_replace_keeps_every_existing_monitor(admin, make_monitor):
    make_monitor(name="old")

    response = admin.post(
        "/api/monitors/import?mode=replace",
        [NANOMON_IMPORT[0], {**NANOMON_IMPORT[1], "type": "gopher"}],
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["detail"] == "monitor 2: invalid monitor type"
    assert list(Monitor.objects.values_list("name", flat=True)) == ["old"]


def test_the_import_is_one_transaction_even_when_the_database_refuses_a_row(monkeypatch):
    """A failure while storing (after validation) rolls back the monitors already stored."""
    from monitors import imports

    saved = []
    original = imports.monitor_save

    def failing_save(monitor, **options):
        if saved:
            raise RuntimeError("disk full")
        saved.append(original(monitor, **options))
        return saved[-1]

    monkeypatch.setattr(imports, "monitor_save", failing_save)
    definitions = [
        {"name": "a", "kind": "http", "interval": "1m", "target": "http://127.0.0.1/"},
        {"name": "b", "kind": "http", "interval": "1m", "target": "http://127.0.0.1/"},
    ]

    with pytest.raises(RuntimeError):
        monitors_import(definitions)

    assert saved
    assert not Monitor.objects.exists()


def test_the_import_service_reports_the_element_number_counted_from_one():
    with pytest.raises(ValidationError) as raised:
        monitors_import([{"name": "x", "kind": "http", "interval": "", "target": "t"}])

    assert raised.value.messages == ["monitor 1: missing monitor interval"]


def test_export_lists_monitors_in_creation_order_without_id_or_updated(admin, make_monitor):
    make_monitor(name="z first")
    make_monitor(name="a second", enabled=False)

    response = admin.get("/api/monitors/export")

    assert response.status_code == 200
    body = response.json()
    assert [monitor["name"] for monitor in body] == ["z first", "a second"]
    assert set(body[0]) == {
        "name", "type", "interval", "target", "rule", "enabled", "properties", "group", "tags",
    }  # fmt: skip


def test_export_then_import_is_a_lossless_round_trip(admin):
    assert admin.post("/api/monitors/import", ASSORTED, format="json").status_code == 204
    exported = admin.get("/api/monitors/export").json()

    assert exported == [{"group": "", "tags": [], **monitor} for monitor in ASSORTED]
    assert (
        admin.post("/api/monitors/import?mode=replace", exported, format="json").status_code == 204
    )
    assert admin.get("/api/monitors/export").json() == exported
    assert Monitor.objects.count() == len(ASSORTED)


def test_a_masked_export_cannot_be_imported_over_the_real_secrets(admin, viewer):
    admin.post("/api/monitors/import", ASSORTED, format="json")
    masked = viewer.get("/api/monitors/export").json()
    assert MASK in masked[-1]["properties"]["headers"]
    assert masked[-1]["properties"]["body"] == '{"q": "••••••"}'  # the body is a secret too

    response = admin.post("/api/monitors/import?mode=replace", masked, format="json")

    assert response.status_code == 400
    assert response.json()["detail"] == (
        "monitor 5: property 'body' holds a masked secret: export it as a user who may "
        "change monitors"
    )
    api = Monitor.objects.get(name="api")
    assert revealed_properties(api.kind, api.properties)["headers"] == (
        '{"Authorization": "Bearer t0ken"}'
    )


def test_an_import_asks_the_dispatcher_once_however_many_monitors_it_holds(
    monkeypatch, django_capture_on_commit_callbacks
):
    from monitors import imports

    requests = []
    monkeypatch.setattr(imports, "request_dispatch", lambda: requests.append(1))
    definitions = [
        {"name": f"m{n}", "kind": "http", "interval": "1m", "target": "http://127.0.0.1/",
         "enabled": True}
        for n in range(5)
    ]  # fmt: skip

    with django_capture_on_commit_callbacks(execute=True):
        monitors_import(definitions)

    assert requests == [1]
    assert Monitor.objects.count() == 5
