"""A local HTTP receiver for webhooks (and Apprise's json:// and form:// schemas).

It records every request it gets and answers 200, or ``fail_status`` with ``fail_body`` for
the next ``fail_next`` requests, optionally after a delay (a slow receiver)::

    with WebhookReceiver() as receiver:
        ...send to receiver.url("/hook")...
        [request] = receiver.wait_for(1)
        assert request.json()["state"] == "down"
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass
from types import TracebackType
from typing import TypeVar

from aiohttp import web

from tests.support.http_servers import RunningServer, serve_app

T = TypeVar("T")


def wait_for_items(
    arrived: threading.Condition, items: list[T], count: int, *, timeout: float, noun: str
) -> list[T]:
    """A copy of ``items`` once at least ``count`` are in it (appended under ``arrived``, which
    is notified on each); AssertionError after ``timeout`` seconds. Shared by the receivers."""
    deadline = time.monotonic() + timeout
    with arrived:
        while len(items) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"expected {count} {noun}(s), got {len(items)}")
            arrived.wait(remaining)
        return list(items)


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    raw_query: str

    def json(self) -> object:
        return json.loads(self.body)

    def text(self) -> str:
        return self.body.decode()


class WebhookReceiver:
    """Serves any path on 127.0.0.1 at a free port while the ``with`` block runs."""

    def __init__(
        self,
        *,
        fail_next: int = 0,
        fail_status: int = 500,
        fail_body: str = "receiver says no",
        delay: float = 0,
    ) -> None:
        self.requests: list[ReceivedRequest] = []
        self.fail_next = fail_next
        self.fail_status = fail_status
        self.fail_body = fail_body
        self.delay = delay
        self._arrived = threading.Condition()
        self._stack = ExitStack()
        self._server: RunningServer | None = None

    def url(self, path: str = "/hook") -> str:
        if self._server is None:
            raise RuntimeError("the receiver is not running")
        return self._server.url(path)

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT`` (for Apprise URLs such as ``json://127.0.0.1:PORT/path``)."""
        if self._server is None:
            raise RuntimeError("the receiver is not running")
        return f"{self._server.host}:{self._server.port}"

    def wait_for(self, count: int, *, timeout: float = 10) -> list[ReceivedRequest]:
        """The requests once at least ``count`` have arrived; AssertionError after ``timeout``."""
        return wait_for_items(self._arrived, self.requests, count, timeout=timeout, noun="request")

    def __enter__(self) -> WebhookReceiver:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._server = self._stack.enter_context(serve_app(app))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stack.close()
        self._server = None

    async def _handle(self, request: web.Request) -> web.Response:
        if self.delay:
            await asyncio.sleep(self.delay)
        received = ReceivedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers=dict(request.headers),
            body=await request.read(),
            raw_query=request.rel_url.raw_query_string,
        )
        with self._arrived:
            self.requests.append(received)
            failing = self.fail_next > 0
            if failing:
                self.fail_next -= 1
            self._arrived.notify_all()
        if failing:
            return web.Response(status=self.fail_status, text=self.fail_body)
        return web.Response(text="ok")
