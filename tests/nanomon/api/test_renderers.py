"""The browsable API's DELETE buttons say what they delete."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def browse(client, path: str) -> str:
    response = client.get(path, HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    return response.content.decode()


def test_the_list_delete_says_it_deletes_every_monitor_and_their_results(admin, make_monitor):
    for name in ("a", "b", "c"):
        make_monitor(name=name)

    page = browse(admin, "/api/monitors?search=a")  # filtered: the DELETE still takes all

    assert "Delete ALL 3 monitors and all their results?" in page
    assert "whatever the filters in this address" in page
    assert '<button class="btn btn-danger">Delete all 3 monitors</button>' in page
    assert 'title="Delete every monitor and all their results"' in page
    assert 'data-target="#deleteAllModal">DELETE ALL</button>' in page
    assert "delete this" not in page  # DRF's own dialog is gone
    assert page.count('data-method="DELETE"') == 1


def test_the_list_delete_of_a_single_monitor_is_worded_for_one(admin, make_monitor):
    make_monitor(name="only")

    assert "Delete ALL 1 monitor and all its results?" in browse(admin, "/api/monitors")


def test_one_monitors_delete_keeps_drfs_dialog(admin, make_monitor):
    monitor = make_monitor(name="one")

    page = browse(admin, f"/api/monitors/{monitor.id}")

    assert "Are you sure you want to delete this" in page
    assert "Delete ALL" not in page


def test_the_results_delete_says_it_deletes_every_result(admin):
    page = browse(admin, "/api/results")

    assert "Delete ALL results of every monitor?" in page
    assert "the monitors stay" in page
    assert "delete this" not in page


def test_no_delete_is_offered_to_those_who_may_not_delete(viewer, make_monitor):
    make_monitor(name="a")

    for path in ("/api/monitors", "/api/results"):
        page = browse(viewer, path)
        assert "Delete ALL" not in page
        assert 'data-method="DELETE"' not in page
