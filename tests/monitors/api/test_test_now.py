""" "Test now" runs on a worker, and a web process only waits for it (issue 19 item 5): each
person may have NANOMON_TEST_PER_USER tests running (a third is a 429), and a web process
waits for at most NANOMON_WEB_THREADS - 2 tests (then a 503), so pages always have threads.

The tests run on the real worker of the ``tests_worker`` fixture; requests at the same time
come from threads with database connections of their own (so: transactional database). The
end-to-end shapes (gunicorn, no worker at all, the embedded shape) are in
tests/test_test_now_end_to_end.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from django.db import connection
from django.utils import timezone

from monitors.models import OneOffCheck, OneOffResult
from tests.support.api import token_client
from tests.support.http_servers import build_test_app, refused_port, serve_app
from tests.support.personas import EDITOR_PERMISSIONS, user_with
from tests.web.conftest import session_client

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("tests_worker")]


@pytest.fixture(scope="module")
def server():
    with serve_app(build_test_app()) as running:
        yield running


class Background(threading.Thread):
    """A request sent from a thread of its own (its own database connection)."""

    def __init__(self, call: Callable[[], object]) -> None:
        super().__init__()
        self.call, self.answer = call, None

    def run(self) -> None:
        try:
            self.answer = self.call()
        finally:
            connection.close()

    def result(self):
        self.join(timeout=60)
        return self.answer


def waiting_tests(count: int) -> None:
    """Wait until ``count`` tests are in flight (their slots taken)."""
    deadline = time.monotonic() + 10
    while OneOffCheck.objects.count() < count:
        assert time.monotonic() < deadline, "the tests did not start"
        time.sleep(0.01)


def slow(server, seconds: float = 2) -> dict[str, object]:
    return {"target": server.url(f"/sleep?seconds={seconds:g}"), "properties": {"timeout": "9s"}}


def test_a_third_test_of_one_person_is_a_429_and_others_may_still_test(server):
    started = timezone.now()
    editor = token_client(user_with("editor", EDITOR_PERMISSIONS))
    other = token_client(user_with("other", EDITOR_PERMISSIONS))
    running = [
        Background(lambda: editor.post("/api/monitors/test", slow(server), format="json"))
        for _ in range(2)
    ]
    for thread in running:
        thread.start()
    waiting_tests(2)

    third = editor.post("/api/monitors/test", {"target": server.url("/ok")}, format="json")
    by_other = other.post("/api/monitors/test", {"target": server.url("/ok")}, format="json")

    assert third.status_code == 429
    assert third["Content-Type"] == "application/problem+json"
    assert third["Retry-After"] == "5"
    assert third.json()["detail"] == (
        "you already have 2 tests running, as many as one person may (NANOMON_TEST_PER_USER): "
        "wait for one to finish"
    )
    assert (by_other.status_code, by_other.json()["status"]) == (200, 0)
    for thread in running:
        answer = thread.result()
        assert answer.status_code == 200, answer.content
        assert (answer.json()["status"], answer.json()["outputs"]["status"]) == (0, 200)
    # The slots are free again, and nothing is left behind.
    again = editor.post("/api/monitors/test", {"target": server.url("/ok")}, format="json")
    assert again.status_code == 200
    assert not OneOffCheck.objects.exists()
    # (Tests in a transaction leave the worker's rows: their request's delete is rolled back.)
    assert not OneOffResult.objects.filter(created_at__gte=started).exists()


def test_a_web_process_waits_for_at_most_its_threads_but_two(server, settings):
    settings.NANOMON_WEB_THREADS = 3  # one test at a time in this process
    first = token_client(user_with("first", EDITOR_PERMISSIONS))
    second = token_client(user_with("second", EDITOR_PERMISSIONS))
    running = Background(lambda: first.post("/api/monitors/test", slow(server), format="json"))
    running.start()
    waiting_tests(1)

    refused = second.post("/api/monitors/test", {"target": server.url("/ok")}, format="json")

    assert refused.status_code == 503
    assert refused["Retry-After"] == "5"
    assert refused.json()["detail"] == (
        "this web server is already waiting for 1 test, as many as it may while it serves "
        "pages: try again in a few seconds"
    )
    assert running.result().status_code == 200
    allowed = second.post("/api/monitors/test", {"target": server.url("/ok")}, format="json")
    assert allowed.status_code == 200


def test_the_pages_test_now_says_why_it_could_not_test(server, settings):
    settings.NANOMON_TEST_PER_USER = 1
    user = user_with("editor", EDITOR_PERMISSIONS)
    api, page = token_client(user), session_client(user)
    running = Background(lambda: api.post("/api/monitors/test", slow(server), format="json"))
    running.start()
    waiting_tests(1)

    response = page.post(
        "/monitors/test",
        {"name": "", "kind": "tcp", "target": f"127.0.0.1:{refused_port()}", "interval": ""},
    )

    assert response.status_code == 200  # a fragment htmx swaps in
    text = response.content.decode()
    assert "Could not test" in text
    assert "you already have 1 test running, as many as one person may" in text
    assert running.result().status_code == 200
