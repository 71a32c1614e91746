"""Channel ``tags`` in ``/api/channels`` (stored normalized, refused naming ``tags``) and the
read-only ``tag_channels`` of ``/api/monitors/{id}/alert_policy``; who may set them."""

from __future__ import annotations

import pytest

from alerts.configuration import alert_policy_set, channel_create
from alerts.models import Channel

pytestmark = pytest.mark.django_db


def hook(**fields) -> dict:
    return {
        "name": "pager",
        "kind": "webhook",
        "is_default": False,
        "config": {"url": "https://hooks.example.org/pager"},
        **fields,
    }


def test_an_admin_creates_a_tagged_channel_and_reads_its_tags_normalized(admin, viewer):
    created = admin.post("/api/channels", hook(tags=["prod", "db", "prod"]), format="json")

    assert created.status_code == 201, created.content
    assert created.json()["tags"] == ["db", "prod"]
    assert Channel.objects.get(pk=created.json()["id"]).tags == ["db", "prod"]
    (listed,) = [c for c in viewer.get("/api/channels").json() if c["id"] == created.json()["id"]]
    assert listed["tags"] == ["db", "prod"]
    untagged = admin.post("/api/channels", hook(name="plain"), format="json").json()
    assert untagged["tags"] == []


def test_tags_change_with_patch_and_put_and_stay_when_left_out(admin):
    body = admin.post("/api/channels", hook(tags=["prod"]), format="json").json()
    url = f"/api/channels/{body['id']}"

    assert admin.patch(url, {"enabled": False}, format="json").json()["tags"] == ["prod"]
    assert admin.patch(url, {"tags": ["team:db", "eu-west/1"]}, format="json").json()["tags"] == [
        "eu-west/1",
        "team:db",
    ]
    put = {key: body[key] for key in ("name", "kind", "config")}
    assert admin.put(url, put, format="json").json()["tags"] == ["eu-west/1", "team:db"]
    assert admin.put(url, {**put, "tags": []}, format="json").json()["tags"] == []
    assert Channel.objects.get(pk=body["id"]).tags == []


@pytest.mark.parametrize(
    "tags",
    [
        ["-prod"],
        ["has space"],
        ["x" * 41],
        ["prod\n"],
        [f"t{index}" for index in range(21)],
        "prod",
        [1],
        [None],
    ],
)
def test_a_bad_tag_is_refused_naming_tags_and_nothing_changes(admin, tags):
    body = admin.post("/api/channels", hook(tags=["prod"]), format="json").json()

    created = admin.post("/api/channels", hook(name="bad", tags=tags), format="json")
    changed = admin.patch(f"/api/channels/{body['id']}", {"tags": tags}, format="json")

    for answer in (created, changed):
        assert answer.status_code == 400, answer.content
        assert answer.json()["detail"].startswith("tags"), answer.json()
    assert not Channel.objects.filter(name="bad").exists()
    assert Channel.objects.get(pk=body["id"]).tags == ["prod"]


def test_the_built_in_channel_may_be_tagged(admin):
    builtin = Channel.objects.get(builtin=Channel.BUILTIN_SETTINGS_EMAIL)

    answer = admin.patch(f"/api/channels/{builtin.pk}", {"tags": ["prod"]}, format="json")

    assert answer.status_code == 200, answer.content
    assert Channel.objects.get(pk=builtin.pk).tags == ["prod"]


def test_only_who_manages_channels_sets_their_tags(admin, editor, viewer, anonymous):
    body = admin.post("/api/channels", hook(tags=["prod"]), format="json").json()
    url = f"/api/channels/{body['id']}"

    for client, refused in ((editor, 403), (viewer, 403), (anonymous, 401)):
        assert client.patch(url, {"tags": ["dev"]}, format="json").status_code == refused
        assert client.post("/api/channels", hook(tags=["dev"]), format="json").status_code == (
            refused
        )
    assert Channel.objects.get(pk=body["id"]).tags == ["prod"]


def test_the_alert_policy_shows_the_channels_its_tags_route_to(
    viewer, anonymous, make_monitor, admin_user
):
    from tests.support.api import token_client
    from tests.support.personas import EDITOR_PERMISSIONS, user_with

    pager = channel_create(
        name="pager", kind="webhook", config={"url": "https://h.example/p"}, tags=["prod"]
    )
    team = channel_create(
        name="team", kind="webhook", config={"url": "https://h.example/t"}, tags=["db", "x"]
    )
    channel_create(
        name="off", kind="webhook", config={"url": "https://h.example/o"}, tags=["prod"],
        enabled=False,
    )  # fmt: skip
    channel_create(name="other", kind="webhook", config={"url": "https://h.example/x"})
    prod = make_monitor(name="prod", tags=["prod", "db"])
    bare = make_monitor(name="bare")

    url = f"/api/monitors/{prod.pk}/alert_policy"
    assert viewer.get(url).json()["tag_channels"] == sorted([pager.pk, team.pk])
    assert viewer.get(f"/api/monitors/{bare.pk}/alert_policy").json()["tag_channels"] == []
    assert anonymous.get(url).status_code == 401

    # With a policy of its own (and its own channels), the same; read-only in a PUT.
    alert_policy_set(prod, use_default_channels=False, channels=[])
    assert viewer.get(url).json()["tag_channels"] == sorted([pager.pk, team.pk])
    policy_editor = token_client(
        user_with("policy-editor", [*EDITOR_PERMISSIONS, "alerts.change_monitoralertpolicy"])
    )
    answer = policy_editor.put(url, {"muted": True, "tag_channels": [bare.pk]}, format="json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["tag_channels"] == sorted([pager.pk, team.pk])
