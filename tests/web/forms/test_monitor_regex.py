"""A bad or too-large regular expression on the pages (New, Edit, "test now", import) is said
next to ``bodyRegex`` or the rule, never a 500 (issue 19 item 1)."""

from __future__ import annotations

import html
import json

from monitors.models import Monitor
from tests.web.views.test_monitor_edit import field_error, form_data
from web.forms.imports import ImportForm

DEEP = "(" * 600 + "a" + ")" * 600
DEEP_REASON = "invalid regular expression: nested too deeply (more than 100 levels of parentheses)"


def test_the_new_form_says_a_deeply_nested_body_regex_next_to_it(editor):
    response = editor.post("/monitors/new", form_data(**{"prop__http__bodyRegex": DEEP}))
    assert response.status_code == 200  # the page again, with the error
    message = html.unescape(field_error(response.content.decode(), "id_prop__http__bodyRegex"))
    assert message == f"property 'bodyRegex': {DEEP_REASON}"
    assert not Monitor.objects.exists()


def test_the_new_form_says_a_deeply_nested_rule_pattern_next_to_the_rule(editor):
    response = editor.post("/monitors/new", form_data(rule=f"body =~ '{DEEP}'"))
    assert response.status_code == 200
    message = html.unescape(field_error(response.content.decode(), "id_rule"))
    assert message.startswith("rule invalid: invalid regular expression '(((")
    assert message.endswith("nested too deeply (more than 100 levels of parentheses)")


def test_the_edit_form_says_a_deeply_nested_body_regex_next_to_it(editor, make_monitor):
    monitor = make_monitor(target="https://example.net/", properties={"bodyRegex": "ok"})
    response = editor.post(
        f"/monitors/{monitor.id}/edit", form_data(**{"prop__http__bodyRegex": DEEP})
    )
    assert response.status_code == 200
    message = html.unescape(field_error(response.content.decode(), "id_prop__http__bodyRegex"))
    assert message == f"property 'bodyRegex': {DEEP_REASON}"
    monitor.refresh_from_db()
    assert monitor.properties == {"bodyRegex": "ok"}


def test_test_now_refuses_a_deeply_nested_body_regex_naming_it(editor):
    response = editor.post("/monitors/test", form_data(**{"prop__http__bodyRegex": DEEP}))
    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    assert "Could not test" in page
    assert f"property 'bodyRegex': {DEEP_REASON}" in page


def test_the_import_form_names_the_element_and_body_regex(db):
    good = {"name": "a", "type": "tcp", "interval": "1m", "target": "127.0.0.1:9"}
    bad = {"name": "b", "type": "http", "interval": "1m", "target": "http://127.0.0.1:9/",
           "properties": {"bodyRegex": DEEP}}  # fmt: skip
    form = ImportForm({"text": json.dumps([good, bad]), "mode": "append"})
    assert not form.is_valid()
    assert form.errors["text"][0] == f"monitor 2: property 'bodyRegex': {DEEP_REASON}"


def test_the_rule_checker_points_at_a_bad_pattern(viewer):
    response = viewer.get("/monitors/rule-check", {"kind": "http", "rule": "body =~ 'a(?=b)'"})
    assert response.status_code == 200
    assert "lookahead is not supported" in html.unescape(response.content.decode())
