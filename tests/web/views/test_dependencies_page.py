"""Dependencies on the pages: set on a monitor's Alerting page (a cycle refused with a message,
nothing stored), and a child whose parent is down shows "unreachable (parent down)" on its page,
its card and its dashboard tile."""

from __future__ import annotations

import pytest

from alerts.dependencies import dependencies_set, is_canary
from alerts.models import Dependency
from tests.support.personas import EDITOR_PERMISSIONS, user_with
from tests.web.conftest import session_client
from tests.web.views.test_alert_pages import record

pytestmark = pytest.mark.django_db
POLICY = "alerts.change_monitoralertpolicy"


@pytest.fixture
def policy_editor():
    return session_client(user_with("policy-editor", [*EDITOR_PERMISSIONS, POLICY]))


def test_an_editor_sets_dependencies_on_the_alerting_page(policy_editor, viewer, make_monitor):
    gateway, host = make_monitor(name="<i>gateway</i>"), make_monitor(name="host")
    url = f"/monitors/{host.pk}/dependencies"

    answer = policy_editor.post(url, {"parents": [gateway.pk], "canary": "on"})

    assert answer.status_code == 302
    assert answer["Location"] == f"/monitors/{host.pk}/alerting"
    assert list(Dependency.objects.values_list("child_id", "parent_id")) == [(host.pk, gateway.pk)]
    assert is_canary(host.pk)
    page = policy_editor.get(f"/monitors/{host.pk}/alerting").content.decode()
    assert "Save dependencies" in page
    assert "&lt;i&gt;gateway&lt;/i&gt;" in page
    assert "<i>gateway" not in page
    shown = viewer.get(f"/monitors/{gateway.pk}/alerting").content.decode()
    assert "Save dependencies" not in shown
    assert f'<a href="/monitors/{host.pk}">host</a>' in shown  # depended on by
    assert viewer.post(url, {"parents": []}).status_code == 403


def test_a_cycle_is_refused_with_a_message(policy_editor, make_monitor):
    gateway, host = make_monitor(name="gateway"), make_monitor(name="host")
    dependencies_set(host, parents=[gateway.pk])

    answer = policy_editor.post(
        f"/monitors/{gateway.pk}/dependencies", {"parents": [host.pk]}, follow=True
    )

    assert "Dependencies not saved: That would be a cycle" in answer.content.decode()
    assert Dependency.objects.count() == 1


def test_a_child_of_a_down_parent_says_unreachable_on_its_page_card_and_tile(viewer, make_monitor):
    gateway, host = make_monitor(name="gateway"), make_monitor(name="host")
    dependencies_set(host, parents=[gateway.pk])
    record(gateway, "FFF")
    record(host, "FFF")

    page = viewer.get(f"/monitors/{host.pk}").content.decode()
    assert "Unreachable (parent down)" in page
    assert f'<a href="/monitors/{gateway.pk}">gateway</a> is down' in page
    assert "unreachable (parent down): the alert is held" in page
    cards = viewer.get("/").content.decode()
    assert cards.count('<p class="card-note">unreachable (parent down)</p>') == 1
    tiles = viewer.get("/dashboard").content.decode()
    assert tiles.count("· unreachable (parent down)") == 1
    assert "unreachable" not in viewer.get(f"/monitors/{gateway.pk}").content.decode()
