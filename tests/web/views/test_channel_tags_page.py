"""Channel tags on the pages: the channel form takes them (commas or spaces) and the list shows
them; a monitor's Alerting page says which channels its tags also notify (escaped)."""

from __future__ import annotations

import pytest

from alerts.configuration import alert_policy_set, channel_create
from alerts.models import Channel
from tests.support.personas import EDITOR_PERMISSIONS, user_with
from tests.web.conftest import session_client

pytestmark = pytest.mark.django_db


def hook_form(**fields) -> dict:
    return {
        "name": "pager", "kind": "webhook", "enabled": "on",
        "webhook_url": "https://hooks.example.org/pager", "webhook_method": "GET",
        "webhook_verify_tls": "on", **fields,
    }  # fmt: skip


def test_the_channel_form_saves_tags_and_the_list_shows_them(admin, viewer):
    assert 'name="tags"' in admin.get("/alerts/channels/new").content.decode()

    answer = admin.post("/alerts/channels/new", hook_form(tags="prod, team:db prod"))

    assert answer.status_code == 302, answer.content.decode()[-2000:]
    channel = Channel.objects.get(name="pager")
    assert channel.tags == ["prod", "team:db"]
    edit = admin.get(f"/alerts/channels/{channel.pk}/edit").content.decode()
    assert 'value="prod, team:db"' in edit
    listing = viewer.get("/alerts/channels").content.decode()
    assert '<td class="channel-tags">prod, team:db</td>' in listing

    cleared = admin.post(f"/alerts/channels/{channel.pk}/edit", hook_form(tags=""))
    assert cleared.status_code == 302
    assert Channel.objects.get(pk=channel.pk).tags == []


def test_a_bad_tag_is_shown_next_to_the_field_and_nothing_is_saved(admin):
    answer = admin.post("/alerts/channels/new", hook_form(tags="prod <b>x</b>"))

    assert answer.status_code == 200
    page = answer.content.decode()
    assert "is not valid" in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page
    assert "<b>x</b>" not in page
    assert not Channel.objects.filter(name="pager").exists()


def test_the_built_in_channel_takes_tags_on_its_form(admin):
    builtin = Channel.objects.get(builtin=Channel.BUILTIN_SETTINGS_EMAIL)

    answer = admin.post(
        f"/alerts/channels/{builtin.pk}/edit",
        {"name": builtin.name, "enabled": "on", "tags": "prod"},
    )

    assert answer.status_code == 302, answer.content.decode()[-2000:]
    assert Channel.objects.get(pk=builtin.pk).tags == ["prod"]


def test_the_alerting_page_lists_the_channels_its_tags_also_notify(viewer, make_monitor):
    channel_create(
        name="<i>pager</i>", kind="webhook", config={"url": "https://h.example/p"},
        is_default=False, tags=["prod"],
    )  # fmt: skip
    channel_create(
        name="quiet", kind="webhook", config={"url": "https://h.example/q"}, tags=["prod"],
        enabled=False,
    )  # fmt: skip
    prod = make_monitor(name="prod", tags=["prod", "eu"])
    staging = make_monitor(name="staging", tags=["staging"])
    bare = make_monitor(name="bare")

    page = viewer.get(f"/monitors/{prod.pk}/alerting").content.decode()
    assert "Channels its tags also notify" in page
    assert "&lt;i&gt;pager&lt;/i&gt; (tagged prod)" in page
    assert "<i>pager</i>" not in page
    assert "quiet" not in page  # disabled: notified by nobody
    assert (
        "No enabled channel has any of its tags (staging)"
        in viewer.get(f"/monitors/{staging.pk}/alerting").content.decode()
    )
    assert "It has no tags" in viewer.get(f"/monitors/{bare.pk}/alerting").content.decode()

    alert_policy_set(prod, muted=True)
    muted = viewer.get(f"/monitors/{prod.pk}/alerting").content.decode()
    assert "but it is muted: nothing is sent" in muted
    assert "&lt;i&gt;pager&lt;/i&gt; (tagged prod)" in muted  # still listed, but silent


def test_the_policy_editor_sees_them_too_and_channel_links_only_for_channel_managers(
    make_monitor, admin
):
    pager = channel_create(
        name="pager", kind="webhook", config={"url": "https://h.example/p"}, tags=["prod"]
    )
    monitor = make_monitor(tags=["prod"])
    editor = session_client(
        user_with("policy-editor", [*EDITOR_PERMISSIONS, "alerts.change_monitoralertpolicy"])
    )

    page = editor.get(f"/monitors/{monitor.pk}/alerting").content.decode()
    assert "pager (tagged prod)" in page
    assert f'href="/alerts/channels/{pager.pk}/edit"' not in page
    linked = admin.get(f"/monitors/{monitor.pk}/alerting").content.decode()
    assert f'<a href="/alerts/channels/{pager.pk}/edit">pager</a> (tagged prod)' in linked
