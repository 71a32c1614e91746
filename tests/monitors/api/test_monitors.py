"""Monitor routes against NanoMon's contract (§1): shapes, codes, messages and their order."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from monitors.models import Monitor
from results.models import MonitorState, Result
from tests.support.api import http_monitor

pytestmark = pytest.mark.django_db

NANOMON_FIELDS = {
    "id",
    "name",
    "type",
    "interval",
    "target",
    "rule",
    "updated",
    "enabled",
    "properties",
}


def test_creating_a_monitor_answers_200_with_nanomon_shape_and_the_extras(admin):
    response = admin.post("/api/monitors", http_monitor(), format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == NANOMON_FIELDS | {"created", "group", "tags", "status", "lastRun"}
    assert (body["group"], body["tags"]) == ("", [])
    assert isinstance(body["id"], int)
    assert body["type"] == "http"
    assert body["interval"] == "30s"
    assert body["properties"] == {"timeout": "2s"}
    assert body["updated"].endswith("Z")
    assert body["status"] is None
    assert body["lastRun"] is None
    monitor = Monitor.objects.get(pk=body["id"])
    assert monitor.kind == "http"
    assert monitor.next_run_at is not None


def test_names_targets_and_rules_are_stored_exactly_as_sent(admin):
    body = http_monitor(name=" Test Updated 216913 ", rule=" status == 200 ")

    created = admin.post("/api/monitors", body, format="json").json()

    assert created["name"] == " Test Updated 216913 "
    assert Monitor.objects.get().rule == " status == 200 "


def test_the_interval_is_kept_as_written(admin):
    for interval in ("1.5h", "1h30m", "90s", "1s"):
        monitor = http_monitor(interval=interval, properties={})  # a set timeout must be below
        body = admin.post("/api/monitors", monitor, format="json").json()
        assert body["interval"] == interval


def test_a_missing_enabled_means_false_and_unknown_keys_are_ignored(admin):
    body = http_monitor(colour="blue", id=999, updated="yesterday")
    del body["enabled"]

    created = admin.post("/api/monitors", body, format="json").json()

    assert created["enabled"] is False
    assert created["id"] != 999
    assert Monitor.objects.get().next_run_at is None  # disabled: never scheduled


def test_null_values_are_the_zero_values_as_in_nanomon(admin):
    body = http_monitor(rule=None, properties=None, enabled=None)

    created = admin.post("/api/monitors", body, format="json").json()

    assert (created["rule"], created["properties"], created["enabled"]) == ("", {}, False)


def test_listing_returns_every_monitor_with_its_current_status(admin, make_monitor, now):
    first = make_monitor(name="a")
    make_monitor(name="b")
    MonitorState.objects.filter(monitor=first).update(last_status=1, last_run_at=now)

    body = admin.get("/api/monitors").json()

    assert [monitor["name"] for monitor in body] == ["a", "b"]
    assert body[0]["status"] == 1
    assert body[0]["lastRun"] == "2026-11-21T12:00:00Z"
    assert body[1]["status"] is None


def test_listing_reads_monitors_and_states_in_one_query(
    admin, make_monitor, django_assert_max_num_queries
):
    for number in range(5):
        make_monitor(name=f"m{number}")

    with django_assert_max_num_queries(3):  # token, user (auth) and the monitors
        response = admin.get("/api/monitors")

    assert len(response.json()) == 5


def test_reading_one_monitor_by_id(admin, make_monitor):
    monitor = make_monitor(name="one")

    response = admin.get(f"/api/monitors/{monitor.id}")

    assert response.status_code == 200
    assert response.json()["id"] == monitor.id
    assert response.json()["name"] == "one"


@pytest.mark.parametrize("path", ["/api/monitors/abc", "/api/monitors/1.5", "/api/monitors/%20"])
def test_a_monitor_id_that_is_not_an_integer_is_a_400_problem(admin, path):
    response = admin.get(path)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["detail"].startswith("monitor id must be an integer")


@pytest.mark.parametrize("monitor_id", ["4520881", "0", "-3", "99999999999999999999999999"])
def test_an_unknown_monitor_is_a_404_problem(admin, monitor_id):
    response = admin.get(f"/api/monitors/{monitor_id}")

    assert response.status_code == 404
    assert response.json()["detail"] == "monitor not found"


def test_updating_replaces_the_definition_and_really_changes_updated(admin, make_monitor, now):
    monitor = make_monitor(name="old", now=now - timedelta(days=1))
    Monitor.objects.filter(pk=monitor.pk).update(updated_at=now - timedelta(days=1))
    MonitorState.objects.filter(monitor=monitor).update(consecutive_failures=7)

    response = admin.put(
        f"/api/monitors/{monitor.id}",
        {"name": "new ", "type": "http", "interval": "10s", "target": "http://localhost:8000"},
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == monitor.id
    assert body["name"] == "new "
    assert body["enabled"] is False  # absent on a PUT: false
    assert body["rule"] == ""  # a full replace
    assert body["updated"] > (now - timedelta(days=1)).isoformat()
    monitor.refresh_from_db()
    assert monitor.updated_at > timezone.now() - timedelta(minutes=1)
    assert MonitorState.objects.get(monitor=monitor).consecutive_failures == 0


def test_updating_an_unknown_monitor_is_a_404(admin):
    response = admin.put("/api/monitors/4520881", http_monitor(), format="json")

    assert response.status_code == 404


def test_deleting_a_monitor_takes_its_results_with_it(admin, make_monitor, now):
    monitor = make_monitor()
    Result.objects.create(
        monitor=monitor, monitor_name="web", monitor_target="x", date=now, scheduled_for=now,
        status=0,
    )  # fmt: skip

    response = admin.delete(f"/api/monitors/{monitor.id}")

    assert response.status_code == 204
    assert response.content == b""
    assert not Monitor.objects.exists()
    assert not Result.objects.exists()


def test_deleting_all_monitors_deletes_their_results_too(admin, make_monitor, now):
    for name in ("a", "b"):
        monitor = make_monitor(name=name)
        Result.objects.create(
            monitor=monitor, monitor_name=name, monitor_target="x", date=now,
            scheduled_for=now, status=0,
        )  # fmt: skip

    response = admin.delete("/api/monitors")

    assert response.status_code == 204
    assert not Monitor.objects.exists()
    assert not Result.objects.exists()


# --- Validation: the contract's messages, in the contract's order ----------------------------


@pytest.mark.parametrize(
    ("fields", "detail"),
    [
        # NanoMon's own API tests, verbatim.
        ({"type": "gibberish", "interval": "__ignore__"}, "invalid monitor type"),
        ({"interval": "gibberish", "target": "__ignore__"}, "invalid monitor interval"),
        ({"interval": "5ms", "target": "__ignore__"}, "monitor interval must be greater than 1s"),
        ({"interval": "5ms", "target": ""}, "missing monitor target"),
        ({"interval": "", "target": "__ignore__"}, "missing monitor interval"),
        ({"name": "", "interval": "5m", "target": "__ignore__"}, "missing monitor name"),
        # The rest of the order: each check wins over every later one.
        ({"name": "", "type": "", "interval": "", "target": ""}, "missing monitor name"),
        ({"name": "", "interval": "bad"}, "missing monitor name"),
        # No type: the target decides it (monitors.autodetect); one that decides nothing
        # is NanoMon's missing type, and a decided one goes on to the later checks.
        ({"type": "", "interval": "bad", "target": "ftp://x"}, "missing monitor type"),
        ({"type": "", "interval": "bad"}, "invalid monitor interval"),
        ({"type": "nope", "interval": ""}, "invalid monitor type"),
        ({"interval": "", "target": ""}, "missing monitor interval"),
        ({"interval": "30", "target": ""}, "missing monitor target"),
        ({"interval": "30", "rule": "status =="}, "invalid monitor interval"),
        ({"interval": "999ms", "rule": "status =="}, "monitor interval must be greater than 1s"),
        ({"interval": "0.5s"}, "monitor interval must be greater than 1s"),
        ({"interval": "30s", "rule": "status ==", "properties": {"x": "1"}}, "rule invalid: "),
    ],
)  # fmt: skip
def test_validation_gives_the_first_failure_in_contract_order(admin, fields, detail):
    body = {"name": "__ignore__", "type": "http", "target": "__ignore__", "enabled": True, **fields}

    response = admin.post("/api/monitors", body, format="json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["detail"].startswith(detail), problem
    if not detail.endswith(": "):
        assert problem["detail"] == detail
    assert not Monitor.objects.exists()


def test_exactly_one_second_is_an_accepted_interval(admin):
    # With the type's default timeout (5s): only a timeout that is set must be below it.
    monitor = http_monitor(interval="1s", properties={})
    response = admin.post("/api/monitors", monitor, format="json")

    assert response.status_code == 200


def test_a_rule_that_does_not_parse_names_the_parser_message(admin):
    response = admin.post("/api/monitors", http_monitor(rule="status == 200 &&"), format="json")

    assert response.status_code == 400
    assert response.json()["detail"].startswith("rule invalid: ")
    assert len(response.json()["detail"]) > len("rule invalid: ")


@pytest.mark.parametrize(
    ("properties", "detail"),
    [
        ({"bogus": "1"}, "property 'bogus': unknown property for type http"),
        ({"timeout": "5"}, "property 'timeout': "),
        ({"validateTLS": "maybe"}, "property 'validateTLS': "),
    ],
)
def test_properties_are_validated_per_type_naming_the_property(admin, properties, detail):
    response = admin.post("/api/monitors", http_monitor(properties=properties), format="json")

    assert response.status_code == 400
    assert response.json()["detail"].startswith(detail)


@pytest.mark.parametrize(
    ("fields", "detail"),
    [
        (
            {"interval": "10s", "properties": {"timeout": "1m"}},
            "property 'timeout': must be less than the monitor interval (10s), got 1m",
        ),
        (
            {"interval": "5s", "properties": {"timeout": "5s"}},
            "property 'timeout': must be less than the monitor interval (5s), got 5s",
        ),
        (
            {"type": "ping", "target": "127.0.0.1", "rule": "", "interval": "30s",
             "properties": {"count": "100", "interval": "1s"}},
            "property 'timeout': a run may take up to 100s ((count - 1) × interval + timeout), "
            "which must be less than the monitor interval (30s)",
        ),
    ],
)  # fmt: skip
def test_a_timeout_that_is_set_must_be_below_the_interval(admin, fields, detail):
    response = admin.post("/api/monitors", http_monitor(**fields), format="json")

    assert response.status_code == 400
    assert response.json()["detail"] == detail
    assert not Monitor.objects.exists()


def test_default_timeouts_keep_every_interval_of_the_contract_valid(admin):
    # NanoMon's contract accepts an http monitor every 1s with its default 5s timeout.
    body = http_monitor(interval="1s", properties={})
    assert admin.post("/api/monitors", body, format="json").status_code == 200
    body = http_monitor(interval="10s", properties={"timeout": "9.5s"})
    assert admin.post("/api/monitors", body, format="json").status_code == 200


@pytest.mark.parametrize(
    ("fields", "detail"),
    [
        ({"enabled": 123}, "enabled: must be true or false"),
        ({"enabled": "true"}, "enabled: must be true or false"),
        ({"enabled": 1}, "enabled: must be true or false"),
        ({"name": 5}, "name: must be a string"),
        ({"name": ["web"]}, "name: must be a string"),
        ({"type": {"http": True}}, "type: must be a string"),
        ({"interval": 30}, "interval: must be a string"),
        ({"target": 10**30}, "target: must be a string"),
        ({"rule": False}, "rule: must be a string"),
        ({"properties": ["timeout"]}, "properties: must be an object of strings"),
        ({"properties": "timeout=5s"}, "properties: must be an object of strings"),
        ({"properties": {"timeout": 5}}, "properties: value of 'timeout' must be a string"),
        ({"properties": {"timeout": None}}, "properties: value of 'timeout' must be a string"),
    ],
)
def test_a_value_of_the_wrong_json_type_is_a_400_naming_the_field(admin, fields, detail):
    response = admin.post("/api/monitors", http_monitor(**fields), format="json")

    assert response.status_code == 400
    assert response.json()["detail"] == detail


def test_type_errors_come_before_the_contract_checks_as_in_nanomon(admin):
    body = {"name": "__ignore__", "type": "__ignore__", "interval": "__ignore__",
            "target": "__ignore__", "enabled": 123}  # fmt: skip

    response = admin.post("/api/monitors", body, format="json")

    assert response.status_code == 400
    assert response.json()["detail"] == "enabled: must be true or false"


@pytest.mark.parametrize(
    ("fields", "detail"),
    [
        ({"name": "n" * 201}, "name must be at most 200 characters"),
        ({"target": "http://127.0.0.1/" + "a" * 2040}, "target must be at most 2048 characters"),
        ({"interval": "1s" * 40}, "interval must be at most 64 characters"),
        ({"properties": {"body": "x" * 70000}}, "properties: value of 'body' must be at most"),
        ({"name": "a\x00b"}, "name: Null characters are not allowed."),
        ({"properties": {"body": "a\x00"}}, "properties: value of 'body' must not contain"),
    ],
)
def test_values_that_do_not_fit_the_database_are_a_400_never_a_500(admin, fields, detail):
    response = admin.post("/api/monitors", http_monitor(**fields), format="json")

    assert response.status_code == 400
    assert response.json()["detail"].startswith(detail)


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        ('"name": "a\\ud800b"', "name: Surrogate characters are not allowed"),
        ('"properties": {"body": "\\udfff"}', "properties: value of 'body' must not contain"),
        ('"properties": {"\\ud800": "1"}', "properties: names must be plain text"),
    ],
)
def test_unpaired_surrogates_escaped_in_json_are_a_400(admin, raw, detail):
    body = '{"type": "http", "interval": "30s", "target": "http://127.0.0.1:9/", ' + raw + "}"

    response = admin.post("/api/monitors", body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["detail"].startswith(detail)


def test_a_name_of_exactly_200_characters_fits(admin):
    response = admin.post("/api/monitors", http_monitor(name="n" * 200), format="json")

    assert response.status_code == 200


def test_a_body_that_is_an_array_instead_of_an_object_is_a_400(admin):
    response = admin.post("/api/monitors", [http_monitor()], format="json")

    assert response.status_code == 400
    assert "Expected a dictionary" in response.json()["detail"]


def test_a_failed_update_changes_nothing(admin, make_monitor):
    monitor = make_monitor(name="keep")

    response = admin.put(f"/api/monitors/{monitor.id}", http_monitor(interval="1"), format="json")

    assert response.status_code == 400
    monitor.refresh_from_db()
    assert monitor.name == "keep"


# --- Filters (beyond NanoMon) ----------------------------------------------------------------


@pytest.fixture
def assorted(make_monitor, now):
    web = make_monitor(name="Web shop", target="http://shop.example/")
    make_monitor(name="db", kind="tcp", target="db.internal:5432", enabled=False)
    dns = make_monitor(name="resolver", kind="dns", target="shop.example")
    MonitorState.objects.filter(monitor=web).update(last_status=0, last_run_at=now)
    MonitorState.objects.filter(monitor=dns).update(last_status=2, last_run_at=now)


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("type=tcp", ["db"]),
        ("enabled=false", ["db"]),
        ("enabled=true", ["resolver", "Web shop"]),
        ("status=2", ["resolver"]),
        ("status=0", ["Web shop"]),
        ("search=WEB", ["Web shop"]),
        ("search=shop.example", ["resolver", "Web shop"]),
        ("type=http&enabled=true&status=0&search=web", ["Web shop"]),
        ("", ["db", "resolver", "Web shop"]),
    ],
)
def test_the_list_filters_by_type_enabled_status_and_search(admin, assorted, query, names):
    response = admin.get(f"/api/monitors?{query}")

    assert response.status_code == 200
    assert sorted(monitor["name"] for monitor in response.json()) == sorted(names)


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("type=gopher", "type: Select a valid choice."),
        ("enabled=maybe", "enabled: Select a valid choice."),
        ("status=7", "status: Select a valid choice."),
        ("search=a%00b", "search: Null characters are not allowed."),
    ],
)
def test_a_bad_filter_value_is_a_400_naming_the_parameter(admin, query, detail):
    response = admin.get(f"/api/monitors?{query}")

    assert response.status_code == 400
    assert response.json()["detail"].startswith(detail)


BAD_TARGETS = [
    # (type, target, properties, what the detail says after "invalid monitor target: ")
    ("http", "not a url", {}, "expected http://host[:port]/path or https://host[:port]/path"),
    ("tcp", "no-port-here", {}, "expected host:port or [IPv6 address]:port"),
    # NanoMon's own suite saved a tcp monitor on "example.net": every run of it failed.
    ("tcp", "example.net", {}, "expected host:port or [IPv6 address]:port"),
    ("ping", "http://x/", {}, "expected a host name or an IP address, without scheme or port"),
    ("dns", "http://x/", {}, "expected a DNS name such as example.net"),
    ("dns", "192.0.2.1", {"type": "MX"}, "only type PTR looks an address up, not MX"),
]


@pytest.mark.parametrize(("kind", "target", "properties", "expected"), BAD_TARGETS)
def test_a_target_that_does_not_fit_its_type_is_a_400_naming_it_and_the_shape(
    admin, kind, target, properties, expected
):
    body = http_monitor(type=kind, target=target, rule="", properties=properties)

    response = admin.post("/api/monitors", body, format="json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    detail = response.json()["detail"]
    assert detail.startswith("invalid monitor target: ")
    assert f"'{target}'" in detail
    assert expected in detail
    assert not Monitor.objects.exists()


@pytest.mark.parametrize(("kind", "target", "properties", "expected"), BAD_TARGETS)
def test_an_update_to_a_target_that_does_not_fit_its_type_is_a_400(
    admin, make_monitor, kind, target, properties, expected
):
    monitor = make_monitor(name="keep")
    body = http_monitor(type=kind, target=target, rule="", properties=properties)

    response = admin.put(f"/api/monitors/{monitor.id}", body, format="json")

    assert response.status_code == 400
    assert expected in response.json()["detail"]
    monitor.refresh_from_db()
    assert (monitor.kind, monitor.target) == ("http", "http://127.0.0.1:9/")


@pytest.mark.parametrize(
    ("kind", "target", "properties"),
    [
        ("http", "https://example.net:8443/health?x=1", {}),
        ("tcp", "db.example.net:5432", {}),
        ("tcp", "[2001:db8::1]:443", {}),
        ("ping", "2001:db8::1", {}),
        ("ping", "gateway", {}),
        ("dns", "_sip._tcp.example.net", {"type": "SRV"}),
        ("dns", "192.0.2.1", {"type": "ptr"}),
    ],
)
def test_targets_of_the_right_shape_are_accepted(admin, kind, target, properties):
    body = http_monitor(type=kind, target=target, rule="", properties=properties)

    response = admin.post("/api/monitors", body, format="json")

    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    ("kind", "rule", "detail"),
    [
        (
            "http",
            "stauts == 200",
            "rule invalid: 'stauts' is not an output of type http; its outputs are respTime, "
            "status, body, bodyLen, certExpiryDays, regexMatch, respTime4, respTime6, status4, "
            "status6",
        ),
        (
            "tcp",
            "status == 200 && respTime < 5",
            "rule invalid: 'status' is not an output of type tcp; its outputs are respTime, "
            "ipAddress, respTime4, respTime6, ipAddress4, ipAddress6",
        ),
        (
            "dns",
            "result0 == 'a' || answer == 'b'",
            "rule invalid: 'answer', 'result0' are not outputs of type dns; its outputs are "
            "respTime, resultCount, result1, result2, …",
        ),
        (
            "http",
            "status + 1",
            "rule invalid: the rule gives a number, never true or false: write a comparison",
        ),
        ("http", "'up: ' + status", "rule invalid: the rule gives a string, never true"),
        ("http", "status == 200 ? 1 : 0", "rule invalid: the rule gives a number, never true"),
    ],
)
def test_a_rule_that_names_no_output_of_the_type_or_gives_no_bool_is_a_400(
    admin, kind, rule, detail
):
    targets = {"http": "http://127.0.0.1:9/", "tcp": "127.0.0.1:9", "dns": "example.net"}
    body = http_monitor(type=kind, target=targets[kind], rule=rule, properties={})

    response = admin.post("/api/monitors", body, format="json")

    assert response.status_code == 400
    assert response.json()["detail"].startswith(detail)
    assert not Monitor.objects.exists()


@pytest.mark.parametrize(
    ("kind", "target", "rule"),
    [
        ("dns", "example.net", "'192.0.2.7' IN (result1, result2, result12) && resultCount > 0"),
        ("http", "http://127.0.0.1:9/", "certExpiryDays > 14 ?? false"),
        ("http", "http://127.0.0.1:9/", "status == 200 ? respTime < 500 : body =~ 'maint'"),
        ("ping", "127.0.0.1", "true"),
    ],
)
def test_rules_over_the_types_outputs_that_give_a_bool_are_accepted(admin, kind, target, rule):
    body = http_monitor(type=kind, target=target, rule=rule, properties={})

    response = admin.post("/api/monitors", body, format="json")

    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    "path",
    ["/api/monitors", "/api/monitors/{id}", "/api/monitors/{id}/results", "/api/results",
     "/api/monitors/export"],
)  # fmt: skip
def test_browsers_get_the_browsable_api_at_the_same_urls(admin, make_monitor, path):
    monitor = make_monitor(name="browsable")

    response = admin.get(path.format(id=monitor.id), HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"Django REST framework" in response.content
