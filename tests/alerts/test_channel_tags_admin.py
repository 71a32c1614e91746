"""Channel tags in the admin: listed, and edited through the channel form (normalized, a bad
one refused next to its field)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from alerts.configuration import channel_create
from alerts.models import Channel

pytestmark = pytest.mark.django_db


@pytest.fixture
def pager():
    return channel_create(
        name="pager", kind="webhook", config={"url": "https://h.example/p"}, tags=["prod", "db"]
    )


def form(**fields) -> dict:
    return {
        "name": "pager", "kind": "webhook", "enabled": "on", "webhook_url": "",
        "webhook_method": "GET", "webhook_verify_tls": "on", "email_port": "587",
        "email_security": "starttls", **fields,
    }  # fmt: skip


def test_the_admin_lists_and_edits_channel_tags(admin_client, pager):
    listing = admin_client.get(reverse("admin:alerts_channel_changelist")).content.decode()
    assert '<td class="field-tag_list">db, prod</td>' in listing
    url = reverse("admin:alerts_channel_change", args=[pager.pk])
    assert 'value="db, prod"' in admin_client.get(url).content.decode()

    saved = admin_client.post(url, form(tags="team:web eu prod"))

    assert saved.status_code == 302, saved.content.decode()[-2000:]
    assert Channel.objects.get(pk=pager.pk).tags == ["eu", "prod", "team:web"]
    refused = admin_client.post(url, form(tags="ok /bad"))
    assert refused.status_code == 200
    assert "is not valid" in refused.content.decode()
    assert Channel.objects.get(pk=pager.pk).tags == ["eu", "prod", "team:web"]
