"""One FilterSet for the monitor list (monitors/filtersets.py): the API and the monitors page
take the same status words, each with the meaning it had, and the same other filters."""

from __future__ import annotations

import pytest
from django.test import Client

from lib.status import Status
from results.models import MonitorState
from tests.support.api import token_client
from tests.web.conftest import session_client


@pytest.fixture
def assorted(make_monitor, now):
    """fine (OK), broken (Error), down (Failed), new (never ran), off (disabled, last run
    OK)."""
    statuses = {"fine": Status.OK, "broken": Status.ERROR, "down": Status.FAILED, "off": Status.OK}
    for name in ("fine", "broken", "down", "new", "off"):
        monitor = make_monitor(name=name, enabled=name != "off")
        if name in statuses:
            MonitorState.objects.filter(monitor=monitor).update(
                last_status=statuses[name], last_run_at=now
            )


# Every word either list took before they shared a FilterSet, with what it keeps.
STATUS_WORDS = [
    ("0", ["fine", "off"]),  # the last run's status, enabled or not
    ("1", ["broken"]),
    ("2", ["down"]),
    ("good", ["fine"]),  # enabled monitors only
    ("error", ["broken"]),
    ("failure", ["down"]),
    ("unknown", ["new"]),
    ("disabled", ["off"]),
]
NAMES = ("fine", "broken", "down", "new", "off")


def page_names(client: Client, query: str) -> list[str]:
    page = client.get(f"/?{query}").content.decode()
    return sorted(name for name in NAMES if f'data-name="{name}"' in page)


@pytest.mark.parametrize(("word", "names"), STATUS_WORDS)
def test_the_api_and_the_page_take_every_status_word_alike(viewer_user, assorted, word, names):
    api = token_client(viewer_user).get(f"/api/monitors?status={word}")
    assert api.status_code == 200
    assert sorted(monitor["name"] for monitor in api.json()) == sorted(names)
    assert page_names(session_client(viewer_user), f"status={word}") == sorted(names)


def test_the_page_takes_the_apis_other_filters_too(viewer_user, assorted):
    client = session_client(viewer_user)
    assert page_names(client, "enabled=false") == ["off"]
    assert page_names(client, "search=BRO") == ["broken"]
    assert page_names(client, "q=dow&enabled=true") == ["down"]


def test_a_bad_status_is_a_400_in_the_api_and_a_message_on_the_page(viewer_user, assorted):
    api = token_client(viewer_user).get("/api/monitors?status=bogus")
    assert api.status_code == 400
    assert api.json()["detail"].startswith("status: Select a valid choice.")

    client = session_client(viewer_user)
    page = client.get("/?status=bogus&type=gopher")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Filter status ignored: Select a valid choice." in text
    assert "Filter type ignored: Select a valid choice." in text
    assert page_names(client, "status=bogus") == sorted(NAMES)  # the bad filter is ignored
    live = client.get("/live/monitors?status=bogus").content.decode()
    assert "ignored" not in live  # a live fragment says nothing: its page did
