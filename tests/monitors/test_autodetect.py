"""A monitor without a type: the target decides it (gosrvmon), through the API, the import (API,
import page and the service) and one-off checks; ``monitors.autodetect`` is the one place."""

from __future__ import annotations

import json

import pytest

from monitors.autodetect import AUTO_HTTP_RULE, decide_kind
from monitors.imports import monitors_import
from monitors.models import Monitor
from monitors.probes import REGISTRY
from monitors.validation import rule_problem
from web.forms.imports import ImportForm


@pytest.mark.parametrize(
    ("kind", "target", "rule", "decided"),
    [
        ("", "https://example.net/health", "", ("http", AUTO_HTTP_RULE)),
        ("", "HTTP://example.net", "status == 200", ("http", "status == 200")),  # rule kept
        ("", "db.example:5432", "", ("tcp", "")),
        ("", "[2001:db8::1]:443", "", ("tcp", "")),
        ("", "gateway.lan", "", ("ping", "")),
        ("", "2001:db8::1", "packetLoss == 0", ("ping", "packetLoss == 0")),
        ("dns", "example.net", "", ("dns", "")),  # a type given is never second-guessed
        ("http", "https://example.net/", "", ("http", "")),  # nor does it gain a rule
        ("", "ftp://example.net", "", ("", "")),  # decides nothing: refused later
        ("", "", "", ("", "")),
    ],
)
def test_decide_kind(kind, target, rule, decided):
    assert decide_kind(kind, target, rule) == decided


def test_the_auto_http_rule_is_a_valid_http_rule_for_2xx_and_3xx():
    assert rule_problem(AUTO_HTTP_RULE, REGISTRY["http"]) is None


def body(**fields) -> dict[str, object]:
    monitor = {"name": "m", "interval": "30s", "enabled": True, **fields}
    return {key: value for key, value in monitor.items() if value is not None}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "kind", "rule"),
    [
        ({"target": "https://example.net/"}, "http", AUTO_HTTP_RULE),
        ({"target": "https://example.net/", "rule": "status == 204"}, "http", "status == 204"),
        ({"target": "127.0.0.1:5432", "type": ""}, "tcp", ""),
        ({"target": "[::1]:5432", "type": None}, "tcp", ""),
        ({"target": "192.0.2.1"}, "ping", ""),
        ({"target": "gateway.lan", "properties": {"count": "5"}}, "ping", ""),
    ],
)
def test_the_api_creates_a_monitor_whose_type_the_target_decides(admin, fields, kind, rule):
    response = admin.post("/api/monitors", body(**fields), format="json")

    assert response.status_code == 200, response.json()
    assert (response.json()["type"], response.json()["rule"]) == (kind, rule)
    monitor = Monitor.objects.get()
    assert (monitor.kind, monitor.rule) == (kind, rule)


@pytest.mark.django_db
def test_the_api_checks_a_decided_type_as_a_given_one(admin):
    response = admin.post(
        "/api/monitors",
        body(target="db.example:5432", properties={"count": "3"}),
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["detail"] == "property 'count': unknown property for type tcp"


@pytest.mark.django_db
@pytest.mark.parametrize("target", ["ftp://example.net", "[::1]", "a b"])
def test_a_target_that_decides_nothing_is_nanomons_missing_monitor_type(admin, target):
    response = admin.post("/api/monitors", body(target=target), format="json")

    assert response.status_code == 400
    assert response.json()["detail"] == "missing monitor type"
    assert not Monitor.objects.exists()


@pytest.mark.django_db
def test_an_update_without_a_type_lets_the_target_decide(admin, make_monitor):
    monitor = make_monitor(kind="tcp", target="127.0.0.1:9")

    response = admin.put(
        f"/api/monitors/{monitor.pk}", body(target="http://127.0.0.1:9/"), format="json"
    )

    assert response.status_code == 200, response.json()
    monitor.refresh_from_db()
    assert (monitor.kind, monitor.rule) == ("http", AUTO_HTTP_RULE)


IMPORT = [
    {"name": "site", "interval": "1m", "target": "https://example.net/", "enabled": True},
    {"name": "db", "interval": "1m", "target": "db.example:5432"},
    {"name": "gw", "type": "", "interval": "1m", "target": "192.0.2.1", "rule": "packetLoss == 0"},
]
DECIDED = [("site", "http", AUTO_HTTP_RULE), ("db", "tcp", ""), ("gw", "ping", "packetLoss == 0")]


def stored() -> list[tuple[str, str, str]]:
    return list(Monitor.objects.order_by("id").values_list("name", "kind", "rule"))


@pytest.mark.django_db
def test_the_api_import_lets_each_target_decide(admin):
    response = admin.post("/api/monitors/import", IMPORT, format="json")

    assert response.status_code == 204
    assert stored() == DECIDED


@pytest.mark.django_db
def test_the_import_page_lets_each_target_decide(db):
    form = ImportForm({"text": json.dumps(IMPORT), "mode": "append"})

    assert form.is_valid(), form.errors
    monitors_import(form.cleaned_data["definitions"])
    assert stored() == DECIDED


@pytest.mark.django_db
def test_the_import_service_lets_each_target_decide():
    fields = [{key: value for key, value in item.items() if key != "type"} for item in IMPORT]

    monitors_import([{"kind": "", **item} for item in fields])

    assert stored() == DECIDED


@pytest.mark.django_db
def test_an_import_element_whose_target_decides_nothing_is_named(admin):
    items = [IMPORT[0], {"name": "x", "interval": "1m", "target": "ftp://example.net"}]

    response = admin.post("/api/monitors/import", items, format="json")

    assert response.status_code == 400
    assert response.json()["detail"] == "monitor 2: missing monitor type"
    assert not Monitor.objects.exists()
