"""New / edit / delete, "test now" and the rule checker (web/views/monitor_edit.py)."""

from __future__ import annotations

import json

import pytest

from monitors.models import Monitor
from monitors.probes import REGISTRY
from monitors.secrets import MASK, revealed_properties
from results.models import Result
from tests.support.http_servers import build_test_app, serve_app


def form_data(**fields) -> dict[str, str]:
    data = {
        "name": "site",
        "kind": "http",
        "target": "https://example.net/",
        "interval": "30s",
        "rule": "status == 200",
        "enabled": "on",
    }
    data.update(fields)
    return data


def field_error(page: str, field_id: str) -> str:
    """The error shown next to a field (its ``<id>_error`` element)."""
    marker = f'id="{field_id}_error">'
    assert marker in page, f"no error next to {field_id}"
    return page.split(marker, 1)[1].split("</p>", 1)[0]


# --- New -----------------------------------------------------------------------------------------


def test_the_new_page_offers_a_template_per_type(editor):
    page = editor.get("/monitors/new").content.decode()
    for kind in REGISTRY:
        assert f'href="/monitors/new?template={kind}"' in page
    assert 'value="https://example.net/"' in page  # the http template by default
    page = editor.get("/monitors/new?template=dns").content.decode()
    assert 'value="example.net"' in page
    assert "resultCount &gt; 0" in page


def test_the_form_offers_each_types_properties_and_outputs_from_the_declarations(editor):
    page = editor.get("/monitors/new?template=ping").content.decode()
    for kind, probe_type in REGISTRY.items():
        for spec in probe_type.properties:
            assert f'name="prop__{kind}__{spec.name}"' in page
        for output in probe_type.outputs:
            assert f"<dt><code>{output.name}</code></dt>" in page
    assert 'data-kind-section="ping">' in page  # shown
    assert 'data-kind-section="http" hidden' in page  # the other types wait for their turn
    assert '<option value="" selected>Default (ip)</option>' in page  # ping's network choices


def test_creating_a_monitor_stores_only_the_properties_given(editor):
    response = editor.post(
        "/monitors/new",
        form_data(
            **{"prop__http__timeout": "2s", "prop__http__method": "", "prop__tcp__timeout": "9s"}
        ),
    )
    monitor = Monitor.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/monitors/{monitor.id}"
    assert monitor.properties == {"timeout": "2s"}
    assert monitor.enabled is True
    assert monitor.next_run_at is not None  # runs at once
    assert "created: it runs now" in editor.get(response["Location"]).content.decode()


def test_a_timeout_not_below_the_interval_is_said_next_to_the_timeout(editor):
    response = editor.post("/monitors/new", form_data(**{"prop__http__timeout": "45s"}))

    assert field_error(response.content.decode(), "id_prop__http__timeout") == (
        "property &#x27;timeout&#x27;: must be less than the monitor interval (30s), got 45s"
    )
    assert not Monitor.objects.exists()
    # Checked against the interval given, not a stand-in: 2m fits an hourly monitor.
    fields = form_data(interval="1h", **{"prop__http__timeout": "2m"})
    assert editor.post("/monitors/new", fields).status_code == 302


def test_every_missing_field_is_said_next_to_it_with_the_contracts_message(editor):
    response = editor.post("/monitors/new", form_data(name="", target="", interval=""))
    page = response.content.decode()
    assert response.status_code == 200
    assert field_error(page, "id_name") == "missing monitor name"
    assert field_error(page, "id_target") == "missing monitor target"
    assert field_error(page, "id_interval") == "missing monitor interval"
    assert 'aria-invalid="true"' in page
    assert "This monitor was not saved" in page
    assert not Monitor.objects.exists()


@pytest.mark.parametrize(
    ("fields", "field_id", "message"),
    [
        ({"interval": "30"}, "id_interval", "invalid monitor interval"),
        ({"interval": "500ms"}, "id_interval", "monitor interval must be greater than 1s"),
        ({"kind": "smtp"}, "id_kind", "invalid monitor type"),
        (
            {"rule": "status == "},
            "id_rule",
            "rule invalid: unexpected end of expression at position 10",
        ),
        (
            {"prop__http__timeout": "soon"},
            "id_prop__http__timeout",
            "property &#x27;timeout&#x27;: must be a duration such as 500ms or 5s, "
            "got &#x27;soon&#x27;",
        ),
        (
            {"target": "not a url"},
            "id_target",
            "invalid monitor target: must be an http:// or https:// URL (target "
            "&#x27;not a url&#x27;; expected http://host[:port]/path or "
            "https://host[:port]/path)",
        ),
        (
            {"kind": "tcp", "target": "no-port-here", "rule": ""},
            "id_target",
            "invalid monitor target: missing port: use host:port (target "
            "&#x27;no-port-here&#x27;; expected host:port or [IPv6 address]:port)",
        ),
        (
            {"kind": "ping", "target": "http://x/", "rule": ""},
            "id_target",
            "invalid monitor target: &#x27;http://x/&#x27; is not a host name or IP address "
            "(expected a host name or an IP address, without scheme or port)",
        ),
        (
            {"rule": "stauts == 200"},
            "id_rule",
            "rule invalid: &#x27;stauts&#x27; is not an output of type http; its outputs are "
            "respTime, status, body, bodyLen, certExpiryDays, regexMatch, respTime4, respTime6, "
            "status4, status6",
        ),
        (
            {"rule": "status + 1"},
            "id_rule",
            "rule invalid: the rule gives a number, never true or false: write a comparison, "
            "e.g. respTime &lt; 500",
        ),
    ],
)
def test_a_bad_value_is_said_next_to_its_field(editor, fields, field_id, message):
    page = editor.post("/monitors/new", form_data(**fields)).content.decode()
    assert field_error(page, field_id) == message
    assert not Monitor.objects.exists()


def test_a_dns_address_target_is_accepted_only_with_type_ptr(editor):
    fields = form_data(kind="dns", target="192.0.2.1", rule="resultCount > 0")
    page = editor.post("/monitors/new", fields).content.decode()
    assert "only type PTR looks an address up, not A" in field_error(page, "id_target")

    response = editor.post("/monitors/new", {**fields, "prop__dns__type": "PTR"})
    assert response.status_code == 302
    assert Monitor.objects.get().properties == {"type": "PTR"}


def test_several_bad_values_are_all_said_at_once(editor):
    page = editor.post(
        "/monitors/new",
        form_data(interval="x", rule="(", **{"prop__http__validateTLS": "maybe"}),
    ).content.decode()
    field_error(page, "id_interval")
    field_error(page, "id_rule")
    assert "must be true or false" in field_error(page, "id_prop__http__validateTLS")


def test_a_new_monitor_may_not_store_a_masked_secret(editor):
    page = editor.post(
        "/monitors/new",
        form_data(**{"prop__http__headers": json.dumps({"A": MASK}, ensure_ascii=False)}),
    ).content.decode()
    assert "holds a masked secret" in field_error(page, "id_prop__http__headers")


# --- Edit ----------------------------------------------------------------------------------------


@pytest.fixture
def secret_monitor(make_monitor):
    return make_monitor(
        name="api",
        properties={"headers": json.dumps({"Authorization": "Bearer s3cret", "Accept": "x"})},
    )


def test_the_edit_form_never_writes_a_secret_into_the_page(editor, secret_monitor):
    page = editor.get(f"/monitors/{secret_monitor.id}/edit").content.decode()
    assert "s3cret" not in page
    assert MASK in page


def test_saving_the_masked_secret_back_keeps_the_stored_one(editor, secret_monitor):
    masked = json.dumps({"Authorization": MASK, "Accept": "text/html"}, ensure_ascii=False)
    response = editor.post(
        f"/monitors/{secret_monitor.id}/edit",
        form_data(name="api v2", **{"prop__http__headers": masked}),
    )
    assert response.status_code == 302
    secret_monitor.refresh_from_db()
    assert secret_monitor.name == "api v2"
    properties = revealed_properties(secret_monitor.kind, secret_monitor.properties)
    assert json.loads(properties["headers"]) == {
        "Authorization": "Bearer s3cret",
        "Accept": "text/html",
    }


def test_editing_resets_the_schedule_and_can_change_the_type(editor, make_monitor):
    monitor = make_monitor(name="m", properties={"timeout": "2s"})
    response = editor.post(
        f"/monitors/{monitor.id}/edit",
        form_data(
            kind="tcp",
            target="db:5432",
            rule="respTime < 500",  # status is no output of tcp
            enabled="",
            **{"prop__tcp__timeout": "1s"},
        ),
    )
    assert response.status_code == 302
    monitor.refresh_from_db()
    assert (monitor.kind, monitor.properties, monitor.enabled) == ("tcp", {"timeout": "1s"}, False)
    assert monitor.next_run_at is None  # disabled: never runs


def test_the_edit_form_shows_the_rule_error_inline(editor, make_monitor):
    monitor = make_monitor(name="m")
    page = editor.post(
        f"/monitors/{monitor.id}/edit", form_data(rule="status = 200")
    ).content.decode()
    assert field_error(page, "id_rule").startswith("rule invalid: ")


# --- Delete --------------------------------------------------------------------------------------


def test_deleting_asks_first_then_deletes_the_monitor_and_its_results(editor, make_monitor):
    from datetime import UTC, datetime

    from tests.web.conftest import add_results

    monitor = make_monitor(name="old")
    add_results(monitor, [0, 0], start=datetime(2026, 1, 1, tzinfo=UTC))
    confirm = editor.get(f"/monitors/{monitor.id}/delete").content.decode()
    assert "every one of its results is deleted" in confirm
    assert Monitor.objects.filter(pk=monitor.id).exists()
    response = editor.post(f"/monitors/{monitor.id}/delete")
    assert response["Location"] == "/"
    assert not Monitor.objects.filter(pk=monitor.id).exists()
    assert not Result.objects.exists()


# --- Test now --------------------------------------------------------------------------------


def test_test_now_runs_the_form_once_and_stores_nothing(editor, tests_worker):
    with serve_app(build_test_app()) as server:
        page = editor.post(
            "/monitors/test",
            form_data(name="", interval="", target=server.url("/ok"), rule="status == 200"),
        ).content.decode()
    assert '<span class="pill status-good">Good</span>' in page
    assert "<code>status</code>" in page
    assert "Nothing was stored" in page
    assert not Monitor.objects.exists()
    assert not Result.objects.exists()


def test_test_now_shows_a_violated_rule(editor, tests_worker):
    with serve_app(build_test_app()) as server:
        page = editor.post(
            "/monitors/test", form_data(target=server.url("/status/503"), rule="status == 200")
        ).content.decode()
    assert '<span class="pill status-error">Error</span>' in page
    assert "Rule violated: status == 200" in page


def test_test_now_refuses_what_cannot_be_probed(editor):
    page = editor.post("/monitors/test", form_data(target="not a url")).content.decode()
    assert "Could not test" in page
    assert "invalid monitor target" in page
    page = editor.post("/monitors/test", form_data(rule="((")).content.decode()
    assert "rule invalid" in page


def test_test_now_cuts_a_check_too_slow_to_wait_for(editor, tests_worker, settings):
    settings.NANOMON_TEST_TIMEOUT_SECONDS = 1
    with serve_app(build_test_app()) as server:
        fields = form_data(
            target=server.url("/sleep?seconds=60"),
            **{"prop__http__timeout": "5m", "interval": "1h"},
        )
        page = editor.post("/monitors/test", fields).content.decode()
    assert '<span class="pill status-failure">Failure</span>' in page
    assert "timed out after 1s, the longest a test may take (NANOMON_TEST_TIMEOUT)" in page


def test_test_now_uses_the_stored_secret_only_for_people_who_may_change_it(
    editor, secret_monitor, db, tests_worker
):
    from tests.support.personas import user_with
    from tests.web.conftest import session_client

    creator = session_client(user_with("creator", ["monitors.add_monitor"]))
    masked = json.dumps({"Authorization": MASK, "Accept": "x"}, ensure_ascii=False)
    with serve_app(build_test_app()) as server:
        data = form_data(
            target=server.url("/echo"),
            rule="body =~ 'Bearer s3cret'",  # the echoed request headers
            monitor_id=str(secret_monitor.id),
            **{"prop__http__headers": masked},
        )
        by_editor = editor.post("/monitors/test", data).content.decode()
        by_creator = creator.post("/monitors/test", data).content.decode()
    assert '<span class="pill status-good">Good</span>' in by_editor
    assert '<span class="pill status-good">Good</span>' not in by_creator


# --- Rule checker ----------------------------------------------------------------------------


def test_the_rule_checker_points_at_the_error(viewer):
    page = viewer.get("/monitors/rule-check", {"kind": "http", "rule": "status == 200 &&& x"})
    text = page.content.decode()
    assert "rule invalid: unexpected token &#x27;&amp;&#x27; at position 16" in text
    assert "status == 200 &amp;&amp;<mark>&amp;</mark> x" in text


def test_the_rule_checker_refuses_a_variable_the_type_does_not_output(viewer):
    text = viewer.get(
        "/monitors/rule-check", {"kind": "dns", "rule": "result3 == 'a' && status == 200"}
    ).content.decode()
    assert "Rule is valid." not in text
    assert (
        "rule invalid: &#x27;status&#x27; is not an output of type dns; its outputs are "
        "respTime, resultCount, result1, result2, …"
    ) in text
    assert "result3 == &#x27;a&#x27; &amp;&amp; <mark>status</mark> == 200" in text


def test_the_rule_checker_refuses_a_typo_of_an_output(viewer):
    text = viewer.get(
        "/monitors/rule-check", {"kind": "http", "rule": "stauts == 200"}
    ).content.decode()
    assert "Rule is valid." not in text
    assert "rule invalid: &#x27;stauts&#x27; is not an output of type http" in text
    assert "<mark>stauts</mark> == 200" in text


def test_the_rule_checker_refuses_a_rule_that_gives_no_bool(viewer):
    text = viewer.get("/monitors/rule-check", {"kind": "http", "rule": "status + 1"}).content
    assert "Rule is valid." not in text.decode()
    assert "rule invalid: the rule gives a number, never true or false" in text.decode()


def test_the_rule_checker_accepts_numbered_dns_results(viewer):
    text = viewer.get(
        "/monitors/rule-check", {"kind": "dns", "rule": "result12 == 'a' || resultCount > 3"}
    ).content.decode()
    assert "Rule is valid." in text


def test_the_rule_checker_accepts_an_empty_rule(viewer):
    text = viewer.get("/monitors/rule-check", {"kind": "http", "rule": ""}).content.decode()
    assert "any answer the probe gets counts as Good" in text
