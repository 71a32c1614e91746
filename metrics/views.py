"""``/metrics`` (Prometheus), ``/api/health`` and ``/api/status``. Thin: checks and collectors
live in ``metrics.health`` and ``metrics.collectors``.

Who sees what (docs/metrics.md): every monitor's name, the
hosts and the workers' names are details, for readers only.

- ``/api/health``: anyone (load balancers).
- ``/metrics``: the scrape credentials when ``PROMETHEUS_BEARER_TOKEN`` or
  ``PROMETHEUS_BASIC_AUTH`` is set; anyone when neither is set and reads are public
  (``NANOMON_PUBLIC_READ``); and always a signed-in reader (session, API token, or the
  provider's bearer token). Everyone else gets a 401.
- ``/api/status``: everything for readers (anyone, when reads are public) and for the scrape
  credentials; the minimal health fields (``service``, ``healthy``, ``reasons``: what
  ``/api/health`` says anyway) for everyone else.
"""

from __future__ import annotations

import base64
import binascii
import glob
import hmac
import logging
import os
import platform
import socket
import time

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.multiprocess import MultiProcessCollector
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.settings import api_settings

from accounts.roles import may_read
from metrics import apps
from metrics.collectors import NanoMonCollector
from metrics.exposition import text_exposition
from metrics.health import broker_transport, go_duration, service_health
from metrics.multiprocess import compact_dead_processes, folder_lock
from metrics.selectors import WORKERS_SEEN_WINDOW, monitor_counts, workers_seen
from nanomon.supervisor import supervisor_status

logger = logging.getLogger(__name__)

REALM = "NanoMon metrics"
MMAP_HEADER_BYTES = 8  # the "used" integer and padding that start every multi-process file


class _FolderCollector:
    """The multi-process files of all web workers, read under the folder's shared lock.

    Exited workers' files are folded first (usually there are none: a glob and a liveness
    check per file), so the folder stays small even with ``--preload`` or ``--max-requests``.
    """

    def __init__(self, path: str) -> None:
        self.path = path

    def collect(self):
        compact_dead_processes(self.path)
        with folder_lock(self.path, exclusive=False):
            # A worker creates its file empty and sizes it a moment later (prometheus_client's
            # MmapedDict): read then, it fails the whole scrape with struct.error (seen under
            # gunicorn's threaded workers). An empty file holds no sample yet: skip it.
            files = [
                name
                for name in glob.glob(os.path.join(self.path, "*.db"))
                if _size(name) >= MMAP_HEADER_BYTES
            ]
            return list(MultiProcessCollector.merge(files, accumulate=True))


def _size(name: str) -> int:
    try:
        return os.path.getsize(name)
    except FileNotFoundError:  # a live gauge file removed since the glob
        return 0


def scrape_protected() -> bool:
    """Whether scrape credentials are set (``PROMETHEUS_BEARER_TOKEN``, ``_BASIC_AUTH``)."""
    return bool(settings.PROMETHEUS_BEARER_TOKEN or settings.PROMETHEUS_BASIC_AUTH)


def _scrape_credentials(request: HttpRequest) -> bool:
    """Whether the request carries the configured scrape token or basic credentials."""
    token = settings.PROMETHEUS_BEARER_TOKEN
    basic = settings.PROMETHEUS_BASIC_AUTH
    if not token and not basic:
        return False
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    credentials = credentials.strip()
    if token and scheme.lower() == "bearer":
        return hmac.compare_digest(credentials.encode(), token.encode())
    if basic and scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True)
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(decoded, basic.encode())
    return False


def _api_user(request: HttpRequest):
    """The user of the request's API credentials (DRF token, the provider's bearer token), or
    None. Sessions are ``request.user`` already; refused credentials are None, not an error."""
    if "Authorization" not in request.headers:
        return None
    drf_request = Request(request)
    for authenticator_class in api_settings.DEFAULT_AUTHENTICATION_CLASSES:
        if issubclass(authenticator_class, SessionAuthentication):
            continue
        try:
            found = authenticator_class().authenticate(drf_request)
        except APIException:
            return None
        if found is not None:
            return found[0]
    return None


def _signed_in_reader(request: HttpRequest) -> bool:
    """A signed-in user who may read (``accounts.roles.may_read``), by session or API."""
    for user in (request.user, _api_user(request)):
        if user is not None and user.is_authenticated and may_read(user):
            return True
    return False


def may_scrape(request: HttpRequest) -> bool:
    """Whether the request may read ``/metrics`` (see the module's docstring)."""
    if _scrape_credentials(request):
        return True
    if not scrape_protected() and settings.NANOMON_PUBLIC_READ:
        return True
    return _signed_in_reader(request)


def may_see_status_details(request: HttpRequest) -> bool:
    """Whether ``/api/status`` gives the request every field, not only the minimal ones.

    Finding a session's or a token's user reads the database: while it is unreachable, only
    the scrape credentials (or public reads) get the details, and nobody a 500."""
    if settings.NANOMON_PUBLIC_READ or _scrape_credentials(request):
        return True
    try:
        return _signed_in_reader(request)
    except DatabaseError:
        return False


def _challenge() -> str:
    challenges = []
    if settings.PROMETHEUS_BASIC_AUTH:
        challenges.append(f'Basic realm="{REALM}", charset="UTF-8"')
    if settings.PROMETHEUS_BEARER_TOKEN:
        challenges.append(f'Bearer realm="{REALM}"')
    if not challenges:  # a reader's API token (or the provider's bearer token)
        challenges.append("Token")
    return ", ".join(challenges)


def unprotected_metrics_warning() -> str | None:
    """The start-up warning when ``/metrics`` is on without scrape credentials, else None."""
    if not settings.PROMETHEUS_ENABLED or scrape_protected():
        return None
    if settings.NANOMON_PUBLIC_READ:
        return (
            "/metrics is enabled without PROMETHEUS_BEARER_TOKEN or PROMETHEUS_BASIC_AUTH, and "
            "NANOMON_PUBLIC_READ=true: anyone can read every monitor's name and the workers' "
            "names there; set a scrape token"
        )
    return (
        "/metrics is enabled without PROMETHEUS_BEARER_TOKEN or PROMETHEUS_BASIC_AUTH: it "
        "answers only signed-in readers (an API token: Prometheus' authorization type Token); "
        "set a scrape token for Prometheus"
    )


def scrape() -> bytes:
    """The whole exposition: the web server's own metrics (django-prometheus, all workers in
    multi-process mode) followed by NanoMon's (``metrics.exposition``: the same format,
    written faster for its ~14 samples per monitor)."""
    registry = REGISTRY
    if settings.PROMETHEUS_MULTIPROC_DIR:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_FolderCollector(settings.PROMETHEUS_MULTIPROC_DIR))
    return generate_latest(registry) + text_exposition(NanoMonCollector().collect())


@require_safe
@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text exposition, when ``PROMETHEUS_ENABLE`` is on (404 otherwise)."""
    if not settings.PROMETHEUS_ENABLED:
        raise Http404("Prometheus metrics are disabled (PROMETHEUS_ENABLE)")
    if not may_scrape(request):
        response = HttpResponse("Unauthorized\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = _challenge()
        return response
    return HttpResponse(scrape(), content_type=CONTENT_TYPE_PLAIN_0_0_4)


@csrf_exempt
@never_cache
def health(request: HttpRequest) -> HttpResponse:
    """Any method. 200 ``OK: Service is healthy``, or 503 giving every reason it is not: the
    database or broker unreachable, no worker seen lately, the dispatcher behind schedule
    (``metrics.health``)."""
    reasons = service_health().reasons
    if not reasons:
        return HttpResponse("OK: Service is healthy", content_type="text/plain; charset=utf-8")
    return HttpResponse(
        f"Error: Service is not healthy: {'; '.join(reasons)}",
        status=503,
        content_type="text/plain; charset=utf-8",
    )


@csrf_exempt
@never_cache
def status(request: HttpRequest) -> JsonResponse:
    """Any method. Always 200: the service, its process and what it can reach (``healthy``);
    only ``service``, ``healthy`` and ``reasons`` for callers who may not read."""
    service = service_health()
    if not may_see_status_details(request):
        return JsonResponse(
            {"service": "NanoMon", "healthy": service.healthy, "reasons": service.reasons}
        )
    database, broker, loop = service.database, service.broker, service.loop
    now = timezone.now()
    uptime = time.monotonic() - apps.STARTED_MONOTONIC
    monitors = workers = dispatcher = None
    if database.ok:
        try:
            monitors = monitor_counts()
            seen = workers_seen(since=now - WORKERS_SEEN_WINDOW)
            workers = {
                "seen": len(seen),
                "names": [name for name, _ in seen],
                "window": go_duration(WORKERS_SEEN_WINDOW.total_seconds()),
            }
        except Exception:  # e.g. not migrated yet: report what we can, never a 500
            logger.warning("status: could not read monitors or workers", exc_info=True)
    if workers is not None and loop is not None:
        last_seen = loop.last_worker_seen_at
        workers |= {
            "lastSeenAt": last_seen.isoformat().replace("+00:00", "Z") if last_seen else None,
            "staleAfter": go_duration(settings.NANOMON_HEALTH_WORKER_STALE_SECONDS),
            "starting": loop.starting,
        }
        dispatcher = {
            "lagSeconds": round(loop.lag_seconds, 3),
            "maxLag": go_duration(settings.NANOMON_HEALTH_MAX_LAG_SECONDS),
        }
    return JsonResponse(
        {
            "service": "NanoMon",
            "healthy": service.healthy,
            "reasons": service.reasons,
            "version": settings.VERSION,
            "buildInfo": settings.BUILD_INFO,
            "hostname": socket.gethostname(),
            "os": platform.system().lower(),
            "architecture": platform.machine(),
            "cpuCount": os.cpu_count(),
            "pythonVersion": platform.python_version(),
            "clientAddr": request.META.get("REMOTE_ADDR", ""),
            "serverHost": request.get_host(),
            "uptime": go_duration(uptime),
            "uptimeSeconds": round(uptime, 3),
            "startedAt": apps.STARTED_AT.isoformat().replace("+00:00", "Z"),
            "database": {"reachable": database.ok, "vendor": connection.vendor},
            "broker": {"reachable": broker.ok, "transport": broker_transport()},
            "monitors": monitors,
            "workers": workers,
            "dispatcher": dispatcher,
            "metricsEnabled": settings.PROMETHEUS_ENABLED,
            # The embedded shape's process supervisor (null elsewhere): restarts, last deaths.
            "supervisor": supervisor_status(settings.DATA_DIR),
        }
    )
