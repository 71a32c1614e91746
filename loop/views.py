"""The ping endpoints of push monitors (docs/push.md): Healthchecks' URLs, so its clients and
cron wrappers work unchanged, and Uptime Kuma's push URL.

No sign-in and no CSRF token: the token in the URL is the credential. An unknown token is a
404 that says nothing more (whether a token exists is not revealed, and a disabled monitor's
token answers like any other). Each token has its own rate limit in each web process
(``NANOMON_PUSH_RATE``), checked before the database is touched, so a flood for one token is
refused at once and never holds the threads the others need.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from loop.ping_groups import RECORDER, PingNotRecorded
from loop.pings import Ping, PingKind
from monitors.probes.push import BODY_LIMIT

# Tokens whose buckets are kept (least recently used dropped first): a spray of made-up tokens
# cannot grow the table without bound.
BUCKETS_KEPT = 100_000
BURST_SECONDS = 4


class TokenBuckets:
    """A token bucket per push token: ``rate`` pings a second, bursts of ``BURST_SECONDS``."""

    def __init__(self) -> None:
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str, rate: float, now: float) -> float:
        """Take one ping's allowance; returns 0 when allowed, else seconds until it would be."""
        capacity = rate * BURST_SECONDS
        with self._lock:
            level, then = self._buckets.pop(key, (capacity, now))
            level = min(capacity, level + (now - then) * rate)
            if level >= 1:
                self._buckets[key] = (level - 1, now)
                wait = 0.0
            else:
                self._buckets[key] = (level, now)
                wait = (1 - level) / rate
            if len(self._buckets) > BUCKETS_KEPT:
                self._buckets.popitem(last=False)
        return wait


BUCKETS = TokenBuckets()


def _body(request: HttpRequest) -> str:
    """The request body's first ``BODY_LIMIT`` bytes as text (bad UTF-8 replaced); a longer
    body is cut and says so."""
    raw = request.read(BODY_LIMIT + 1) if request.method == "POST" else b""
    text = raw[:BODY_LIMIT].decode("utf-8", "replace").strip()
    if len(raw) > BODY_LIMIT:
        text += f" … (cut at {BODY_LIMIT:,} bytes)"
    return text


def _limited(token: str) -> HttpResponse | None:
    wait = BUCKETS.take(token, settings.NANOMON_PUSH_RATE, time.monotonic())
    if not wait:
        return None
    response = HttpResponse("rate limited\n", status=429, content_type="text/plain")
    response["Retry-After"] = str(max(1, math.ceil(wait)))
    return response


def _healthchecks(request: HttpRequest, ping: Ping) -> HttpResponse:
    if limited := _limited(ping.token):
        return limited
    try:
        found = RECORDER.record(ping)
    except PingNotRecorded:
        return _unavailable(HttpResponse("not recorded, try again\n", content_type="text/plain"))
    if not found:
        return HttpResponse("not found\n", status=404, content_type="text/plain")
    return HttpResponse("OK\n", content_type="text/plain")


def _unavailable(response: HttpResponse) -> HttpResponse:
    """503 with Retry-After: the database could not record the ping (clients retry)."""
    response.status_code = 503
    response["Retry-After"] = "5"
    return response


@csrf_exempt
@require_http_methods(["GET", "POST", "HEAD"])
def ping_success(request: HttpRequest, token: str) -> HttpResponse:
    return _healthchecks(request, Ping(token, PingKind.SUCCESS, message=_body(request)))


@csrf_exempt
@require_http_methods(["GET", "POST", "HEAD"])
def ping_fail(request: HttpRequest, token: str) -> HttpResponse:
    return _healthchecks(request, Ping(token, PingKind.FAIL, message=_body(request)))


@csrf_exempt
@require_http_methods(["GET", "POST", "HEAD"])
def ping_start(request: HttpRequest, token: str) -> HttpResponse:
    return _healthchecks(request, Ping(token, PingKind.START))


@csrf_exempt
@require_http_methods(["GET", "POST", "HEAD"])
def ping_exit(request: HttpRequest, token: str, code: int) -> HttpResponse:
    if code > 255:
        return HttpResponse("exit code must be 0 to 255\n", status=400, content_type="text/plain")
    kind = PingKind.SUCCESS if code == 0 else PingKind.EXIT
    return _healthchecks(request, Ping(token, kind, exit_code=code, message=_body(request)))


@csrf_exempt
@require_http_methods(["GET", "POST", "HEAD"])
def kuma_push(request: HttpRequest, token: str) -> HttpResponse:
    """Uptime Kuma's ``/api/push/<token>?status=up|down&msg=…&ping=…``."""
    status = request.GET.get("status", "up")
    if status not in ("up", "down"):
        return JsonResponse({"ok": False, "msg": "status must be up or down"}, status=400)
    try:
        duration = float(request.GET["ping"]) if request.GET.get("ping") else None
    except ValueError:
        return JsonResponse({"ok": False, "msg": "ping must be a number"}, status=400)
    if duration is not None and not math.isfinite(duration):
        return JsonResponse({"ok": False, "msg": "ping must be a number"}, status=400)
    message = request.GET.get("msg", "")[:BODY_LIMIT]
    if message == "OK":  # Uptime Kuma's default msg
        message = ""
    kind = PingKind.SUCCESS if status == "up" else PingKind.FAIL
    if _limited(token):
        return JsonResponse({"ok": False, "msg": "rate limited"}, status=429)
    try:
        found = RECORDER.record(Ping(token, kind, message=message, duration_ms=duration))
    except PingNotRecorded:
        return _unavailable(JsonResponse({"ok": False, "msg": "not recorded, try again"}))
    if not found:
        return JsonResponse({"ok": False, "msg": "Monitor not found or not active."}, status=404)
    return JsonResponse({"ok": True})
