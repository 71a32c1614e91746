"""Message templates on the channel pages: the kind's declared template fields are in the
form, a bad template is refused next to its field, and the edit page previews each event as
the saved channel sends it (escaped)."""

from __future__ import annotations

import pytest

from alerts.models import Channel

pytestmark = pytest.mark.django_db


def hook_form(**fields) -> dict:
    return {
        "name": "hook", "kind": "webhook", "enabled": "on", "is_default": "on",
        "webhook_url": "http://127.0.0.1:9/hook", "webhook_method": "POST", **fields,
    }  # fmt: skip


def test_templates_are_set_on_the_form_and_previewed(admin):
    page = admin.get("/alerts/channels/new").content.decode()
    for kind in ("email", "webhook", "apprise"):
        assert f'name="{kind}_subject_template"' in page
        assert f'name="{kind}_body_template"' in page

    answer = admin.post(
        "/alerts/channels/new",
        hook_form(
            webhook_subject_template="<b>${name}</b> is ${state}",
            webhook_body_template="${summary}\nlasted ${duration}",
        ),
    )

    assert answer.status_code == 302, answer.content.decode()
    channel = Channel.objects.get(name="hook")
    assert channel.config["subject_template"] == "<b>${name}</b> is ${state}"
    edit = admin.get(f"/alerts/channels/{channel.pk}/edit").content.decode()
    assert 'id="message-preview"' in edit
    assert "&lt;b&gt;Example shop&lt;/b&gt; is down" in edit
    assert "&lt;b&gt;Example shop&lt;/b&gt; is up" in edit
    assert "Example shop is UP again.\nlasted 12 min 30 s" in edit
    assert "<b>Example shop</b>" not in edit


def test_a_bad_template_is_refused_next_to_its_field(admin):
    answer = admin.post(
        "/alerts/channels/new", hook_form(webhook_body_template="{{ settings.SECRET_KEY }}")
    )

    assert answer.status_code == 200
    page = answer.content.decode()
    assert "field-error" in page
    assert "is not template syntax here" in page
    assert not Channel.objects.filter(name="hook").exists()


def test_a_new_channel_has_no_preview_yet(admin):
    assert 'id="message-preview"' not in admin.get("/alerts/channels/new").content.decode()
