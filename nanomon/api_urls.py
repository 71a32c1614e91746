"""Everything under /api/: the route list, the monitors and results APIs, the OpenAPI schema
and its docs.

Unknown routes under /api/ are answered with a 404 problem by ``handler404`` (root URLconf),
so routes added elsewhere under /api/ (health, status) are never shadowed by a catch-all.
"""

import threading

from django.urls import include, path
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from nanomon.api_root import ROOT_NAME, ApiRootView


class SchemaView(SpectacularAPIView):
    """drf-spectacular's schema view, one generation at a time per process: its extensions load
    lazily by changing class attributes (a failed optional import sets ``target_class`` to
    None), which is not thread-safe; under gunicorn's threaded workers 5 of 6 concurrent first
    requests answered 500 (tests/nanomon/api/test_schema.py)."""

    _lock = threading.Lock()

    @extend_schema(exclude=True)  # as drf-spectacular's own get: the schema is not in itself
    def get(self, request, *args, **kwargs):
        with self._lock:
            return super().get(request, *args, **kwargs)


urlpatterns = [
    # /api/ itself: the routes below, by name (JSON, or the browsable API in a browser).
    path("", ApiRootView.as_view(), name=ROOT_NAME),
    path("", include("monitors.api.urls")),
    path("", include("results.api.urls")),
    path("", include("alerts.api.alerting_urls")),
    path("", include("alerts.api.urls")),
    # /api/backup and /api/backup_full (gosrvmon's routes): download or restore a backup.
    path("", include("backups.urls")),
    path("schema/", SchemaView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # Sign-in for the browsable API (session + CSRF).
    path("auth/", include("rest_framework.urls")),
]
