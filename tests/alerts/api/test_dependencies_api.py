"""``GET/PUT /api/monitors/{id}/dependencies``: parents replaced, children and the monitor's
held reason read, cycles and unknown monitors refused with a 400 problem, 403 without
``alerts.change_monitoralertpolicy``, 404 for an unknown monitor."""

from __future__ import annotations

import pytest

from alerts.models import Dependency
from tests.support.api import token_client
from tests.support.personas import EDITOR_PERMISSIONS, user_with

pytestmark = pytest.mark.django_db


@pytest.fixture
def policy_editor(db):
    return token_client(
        user_with("policy", [*EDITOR_PERMISSIONS, "alerts.change_monitoralertpolicy"])
    )


def test_parents_are_set_read_and_say_when_the_monitor_is_unreachable(
    policy_editor, viewer, make_monitor, record
):
    gateway, host = make_monitor(name="gateway"), make_monitor(name="host")

    answer = policy_editor.put(
        f"/api/monitors/{host.pk}/dependencies", {"parents": [gateway.pk]}, format="json"
    )

    assert answer.status_code == 200, answer.content
    assert answer.json() == {
        "monitor": host.pk, "parents": [gateway.pk], "children": [], "parents_down": [],
        "canary": False, "unreachable": None,
    }  # fmt: skip
    record(gateway, "FFF")
    record(host, "F")
    read = viewer.get(f"/api/monitors/{host.pk}/dependencies").json()
    assert (read["parents_down"], read["unreachable"]) == (
        [gateway.pk],
        "unreachable (parent down)",
    )
    assert viewer.get(f"/api/monitors/{gateway.pk}/dependencies").json()["children"] == [host.pk]


def test_a_canary_is_set_and_kept_when_left_out(policy_editor, make_monitor):
    canary = make_monitor(name="canary")
    url = f"/api/monitors/{canary.pk}/dependencies"

    assert policy_editor.put(url, {"parents": [], "canary": True}, format="json").json()["canary"]
    assert policy_editor.put(url, {"parents": []}, format="json").json()["canary"] is True
    assert (
        policy_editor.put(url, {"parents": [], "canary": False}, format="json").json()["canary"]
        is False
    )


def test_cycles_itself_and_unknown_monitors_are_a_400_problem(policy_editor, make_monitor):
    a, b = make_monitor(name="a"), make_monitor(name="b")
    policy_editor.put(f"/api/monitors/{b.pk}/dependencies", {"parents": [a.pk]}, format="json")

    for monitor, parents, words in [
        (a, [a.pk], "cannot depend on itself"),
        (a, [b.pk], "cycle"),
        (a, [99999], "No such monitor"),
    ]:
        answer = policy_editor.put(
            f"/api/monitors/{monitor.pk}/dependencies", {"parents": parents}, format="json"
        )
        assert answer.status_code == 400
        assert answer.headers["Content-Type"] == "application/problem+json"
        assert words in answer.content.decode()
    assert list(Dependency.objects.values_list("child_id", "parent_id")) == [(b.pk, a.pk)]


def test_viewers_may_not_set_dependencies_and_unknown_monitors_are_404(
    viewer, policy_editor, make_monitor
):
    a, b = make_monitor(name="a"), make_monitor(name="b")

    refused = viewer.put(f"/api/monitors/{a.pk}/dependencies", {"parents": [b.pk]}, format="json")
    assert refused.status_code == 403
    assert Dependency.objects.count() == 0
    assert viewer.get("/api/monitors/99999/dependencies").status_code == 404
    assert policy_editor.post(f"/api/monitors/{a.pk}/dependencies", {}).status_code == 405
    assert viewer.get("/api/monitors/x/dependencies").status_code == 400
