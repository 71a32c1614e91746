"""A bad or too-large regular expression is a 400 naming ``bodyRegex`` or the rule on every
API entry point (create, update, import, test), never a 500 (issue 19 item 1)."""

from __future__ import annotations

import pytest

from monitors.models import Monitor
from tests.support.api import http_monitor

pytestmark = pytest.mark.django_db

DEEP = "(" * 600 + "a" + ")" * 600  # 600 nested groups: a RecursionError in Python's re
DEEP_BODY_REGEX = (
    "property 'bodyRegex': invalid regular expression: nested too deeply "
    "(more than 100 levels of parentheses)"
)


def detail(response) -> str:
    assert response.status_code == 400, response.content
    return response.json()["detail"]


def test_create_refuses_deeply_nested_groups_naming_body_regex(admin):
    response = admin.post("/api/monitors", http_monitor(properties={"bodyRegex": DEEP}), "json")
    assert detail(response) == DEEP_BODY_REGEX
    assert not Monitor.objects.exists()


def test_update_refuses_deeply_nested_groups_naming_body_regex(admin, make_monitor):
    monitor = make_monitor(properties={"bodyRegex": r"depth: (\d+)"})
    response = admin.put(
        f"/api/monitors/{monitor.id}", http_monitor(properties={"bodyRegex": DEEP}), format="json"
    )
    assert detail(response) == DEEP_BODY_REGEX
    monitor.refresh_from_db()
    assert monitor.properties == {"bodyRegex": r"depth: (\d+)"}


def test_import_refuses_deeply_nested_groups_naming_the_element_and_body_regex(admin):
    items = [http_monitor(name="fine"), http_monitor(properties={"bodyRegex": DEEP})]
    response = admin.post("/api/monitors/import", items, format="json")
    assert detail(response) == f"monitor 2: {DEEP_BODY_REGEX}"
    assert not Monitor.objects.exists()


def test_the_test_action_refuses_deeply_nested_groups_naming_body_regex(editor):
    body = {"target": "http://127.0.0.1:9/", "properties": {"bodyRegex": DEEP}}
    response = editor.post("/api/monitors/test", body, format="json")
    assert detail(response) == DEEP_BODY_REGEX


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/monitors", http_monitor(rule=f"body =~ '{DEEP}'")),
        ("/api/monitors/import", [http_monitor(rule=f"body !~ '{DEEP}'")]),
        ("/api/monitors/test", {"target": "http://127.0.0.1:9/", "rule": f"body =~ '{DEEP}'"}),
    ],
)
def test_a_rule_with_deeply_nested_groups_is_a_400_naming_the_rule(admin, path, body):
    message = detail(admin.post(path, body, format="json"))
    assert "rule invalid: invalid regular expression '(((" in message
    assert message.endswith(
        "at position 8: nested too deeply (more than 100 levels of parentheses)"
    )


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("(abc", "missing ): (abc"),
        ("a(?=b)", "invalid perl operator: (?= (lookahead is not supported"),
        (r"(a)\1", r"invalid escape sequence: \1 (backreferences are not supported"),
        ("x" * 3000, "too long (3000 characters, at most 2048)"),
        (".{1000}.{1000}", "too large once compiled ("),
        ("a{5000}", "invalid repetition size: {5000}"),
    ],
)
def test_a_bad_or_too_large_body_regex_is_a_400_naming_it(admin, pattern, reason):
    message = detail(
        admin.post("/api/monitors", http_monitor(properties={"bodyRegex": pattern}), "json")
    )
    assert message.startswith(f"property 'bodyRegex': invalid regular expression: {reason}")


def test_a_catastrophic_but_valid_pattern_is_accepted(admin):
    response = admin.post(
        "/api/monitors",
        http_monitor(properties={"bodyRegex": "(a+)+$"}, rule="body !~ '(a|aa)+$'"),
        format="json",
    )
    assert response.status_code == 200, response.content
