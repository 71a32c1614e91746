"""Credentials in targets (user info, ``?token=``) and the http ``body`` property through the
API: masked for those who may not change monitors on every route that shows them, kept when
sent back masked, refused when a mask stands for nothing, and never searchable."""

from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest

from monitors.models import Monitor
from monitors.secrets import MASK, masked_target, revealed_properties
from results.models import Result
from tests.support.api import http_monitor, token_client
from tests.support.http_servers import refused_port
from tests.support.personas import user_with

pytestmark = pytest.mark.django_db

TARGET = "https://bot:pa55@127.0.0.1:9/send?chat=7&token=t0k3n&Api-Key=k3y"
MASKED = f"https://{MASK}@127.0.0.1:9/send?chat=7&token={MASK}&Api-Key={MASK}"
BODY = "user=bot&password=hunter2"


def use_tests_worker(request) -> None:
    """The run's tests worker, where "Test now" runs its checks on a worker (the
    ``tests_worker`` fixture); nothing where it runs them in the web process."""
    with contextlib.suppress(pytest.FixtureLookupError):
        request.getfixturevalue("tests_worker")


@pytest.fixture
def private(make_monitor):
    return make_monitor(name="private", target=TARGET, properties={"method": "POST", "body": BODY})


@pytest.mark.parametrize(
    ("persona", "revealed"),
    [("admin", True), ("editor", True), ("viewer", False), ("anonymous", False)],
)
def test_monitor_routes_mask_the_target_and_body_for_readers_who_may_not_change(
    personas, public_read, private, persona, revealed
):
    client = personas[persona]

    one = client.get(f"/api/monitors/{private.id}").json()
    listed = client.get("/api/monitors").json()[0]
    browsable = client.get("/api/monitors?format=json").json()[0]
    exported = client.get("/api/monitors/export").json()[0]

    for body in (one, listed, browsable, exported):
        assert body["target"] == (TARGET if revealed else MASKED)
        assert body["properties"] == {"method": "POST", "body": BODY if revealed else MASK}


@pytest.mark.parametrize(("persona", "revealed"), [("editor", True), ("viewer", False)])
def test_results_mask_the_target_snapshot(request, private, now, persona, revealed):
    Result.objects.create(
        monitor=private, monitor_name=private.name, monitor_target=TARGET, date=now,
        scheduled_for=now - timedelta(seconds=1), status=2, value=0.0, message="refused",
    )  # fmt: skip
    client = request.getfixturevalue(persona)

    of_monitor = client.get(f"/api/monitors/{private.id}/results").json()
    of_all = client.get("/api/results").json()

    for body in (of_monitor, of_all):
        assert body[0]["monitor_target"] == (TARGET if revealed else MASKED)


def test_testing_a_stored_monitor_masks_its_target_for_who_may_only_add(request, make_monitor):
    use_tests_worker(request)
    target = f"http://u:p@127.0.0.1:{refused_port()}/?sig=abc"
    monitor = make_monitor(name="t", target=target)
    adder = token_client(user_with("adder", ["monitors.add_monitor", "monitors.view_monitor"]))
    changer = token_client(user_with("changer", ["monitors.change_monitor"]))

    by_adder = adder.post(f"/api/monitors/{monitor.id}/test").json()
    by_changer = changer.post(f"/api/monitors/{monitor.id}/test").json()

    assert (
        by_adder["monitor_target"]
        == masked_target(target)
        == f"http://{MASK}@" + (target.split("@")[1].replace("sig=abc", f"sig={MASK}"))
    )
    assert by_changer["monitor_target"] == target


def test_the_masked_target_put_back_keeps_the_stored_one(editor, private):
    body = http_monitor(name="renamed", target=MASKED, properties={"method": "POST", "body": MASK})

    response = editor.put(f"/api/monitors/{private.id}", body, format="json")

    assert response.status_code == 200, response.content
    private.refresh_from_db()
    body = revealed_properties(private.kind, private.properties)["body"]
    assert (private.name, private.target, body) == ("renamed", TARGET, BODY)


def test_a_changed_target_keeps_its_masked_parts(editor, private):
    changed = f"https://{MASK}@127.0.0.1:9/v2/send?chat=8&token={MASK}"

    response = editor.put(
        f"/api/monitors/{private.id}", http_monitor(target=changed), format="json"
    )

    assert response.status_code == 200, response.content
    private.refresh_from_db()
    assert private.target == "https://bot:pa55@127.0.0.1:9/v2/send?chat=8&token=t0k3n"


def test_a_masked_target_with_nothing_stored_behind_it_is_refused(editor, make_monitor):
    plain = make_monitor(name="plain", target="https://127.0.0.1:9/")

    created = editor.post("/api/monitors", http_monitor(target=MASKED), format="json")
    updated = editor.put(f"/api/monitors/{plain.id}", http_monitor(target=MASKED), format="json")

    for response in (created, updated):
        assert response.status_code == 400
        assert response.json()["detail"] == (
            "target holds a masked secret: give it in full (export it as a user who may "
            "change monitors)"
        )
    assert Monitor.objects.get(pk=plain.pk).target == "https://127.0.0.1:9/"


def test_a_viewers_export_cannot_be_imported_over_the_real_target(admin, viewer, private):
    exported = viewer.get("/api/monitors/export").json()
    exported[0]["properties"] = {}  # the body alone would be refused first

    response = admin.post("/api/monitors/import?mode=replace", exported, format="json")

    assert response.status_code == 400
    assert response.json()["detail"].startswith("monitor 1: target holds a masked secret")
    assert Monitor.objects.get(pk=private.pk).target == TARGET


@pytest.mark.parametrize(
    ("search", "viewer_finds", "editor_finds"),
    [
        ("private", True, True),  # the name
        ("127.0.0.1:9/send", False, True),  # a target with user info: not searched at all
        ("t0k", False, True),  # a masked value
        ("pa55", False, True),  # masked user info
    ],
)
def test_search_looks_only_at_what_the_reader_may_see(
    editor, viewer, private, search, viewer_finds, editor_finds
):
    def found(client) -> bool:
        return bool(client.get("/api/monitors", {"search": search}).json())

    assert (found(viewer), found(editor)) == (viewer_finds, editor_finds)


def test_search_by_viewers_sees_a_target_up_to_its_query(viewer, make_monitor):
    make_monitor(name="a", target="https://status.example.net/health?token=s3cr3t&x=1")

    def names(search: str) -> list[str]:
        return [item["name"] for item in viewer.get("/api/monitors", {"search": search}).json()]

    assert names("status.example.net/health") == ["a"]
    assert names("s3cr3t") == []
    assert names("x=1") == []  # the query is not searched (a masked value sits in it)
