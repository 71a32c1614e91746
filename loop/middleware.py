"""The ping URLs skip the page middleware (``PingShortcutMiddleware``, first in MIDDLEWARE).

A ping is a machine's request with a token for its credential: no session, no sign-in, no
CSRF token, no page headers (CSP, frame options), no viewer time zone. Taking those ten
middleware out of its path is about half of what Django costs per ping
(``bench/push.py``, docs/push.md): the ping routes (``loop/urls.py``) are resolved here and
their views called directly; every other request goes down the chain as before.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, get_resolver

PREFIXES = ("/ping/", "/api/push/")


class PingShortcutMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.resolver = get_resolver("loop.urls")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(PREFIXES):
            try:
                match = self.resolver.resolve(request.path_info)
            except Resolver404:
                return self.get_response(request)  # not a ping URL: Django's own 404
            return match.func(request, *match.args, **match.kwargs)
        return self.get_response(request)
