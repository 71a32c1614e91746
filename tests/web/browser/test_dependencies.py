"""Dependencies in a real browser: an admin makes a host depend on its gateway on the host's
Alerting page, a cycle back is refused with a message, and while the gateway is down the host's
page, card and dashboard tile say "unreachable (parent down)"."""

from __future__ import annotations

import pytest

from alerts.models import Dependency
from tests.support.personas import user_with
from tests.web.browser.conftest import sign_in
from tests.web.browser.test_alert_channels import record_runs

pytestmark = pytest.mark.browser


@pytest.fixture
def admin_user(transactional_db):
    return user_with("boss", [], is_staff=True, is_superuser=True)


def test_an_admin_sets_a_dependency_and_sees_the_child_unreachable(
    page, live_server, shot, admin_user, make_monitor, settings
):
    settings.ALERT_FAIL_COUNT = 2
    gateway, host = make_monitor(name="gateway <gw>"), make_monitor(name="host")
    base = live_server.url
    sign_in(page, base, "boss", next_path=f"/monitors/{host.pk}/alerting")

    page.get_by_role("heading", name="Dependencies").wait_for()
    page.get_by_label("Depends on").select_option(label="gateway <gw>")
    page.get_by_role("button", name="Save dependencies").click()
    page.get_by_text("Dependencies saved.").wait_for()
    assert list(Dependency.objects.values_list("child_id", "parent_id")) == [(host.pk, gateway.pk)]

    page.goto(f"{base}/monitors/{gateway.pk}/alerting")
    assert "host" in page.locator("dl.dependencies").inner_text()  # depended on by
    page.get_by_label("Depends on").select_option(label="host")
    page.get_by_role("button", name="Save dependencies").click()
    page.get_by_text("Dependencies not saved: That would be a cycle").wait_for()
    assert Dependency.objects.count() == 1

    record_runs(gateway, "FF")
    record_runs(host, "FF")
    page.goto(f"{base}/monitors/{host.pk}")
    notice = page.locator("p.unreachable-now")
    notice.wait_for()
    assert notice.inner_text().startswith("Unreachable (parent down): gateway <gw> is down.")
    shot(page, "monitor-unreachable")
    page.goto(f"{base}/")
    assert page.locator(".card", has_text="host").locator(".card-note").inner_text() == (
        "unreachable (parent down)"
    )
    page.goto(f"{base}/dashboard")
    assert "unreachable (parent down)" in page.locator(".tile", has_text="host").inner_text()
