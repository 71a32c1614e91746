"""Everything under /api/: the route list, the monitors and results APIs, the OpenAPI schema
and its docs.

Unknown routes under /api/ are answered with a 404 problem by ``handler404`` (root URLconf),
so routes added elsewhere under /api/ (health, status) are never shadowed by a catch-all.
"""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from nanomon.api_root import ROOT_NAME, ApiRootView

urlpatterns = [
    # /api/ itself: the routes below, by name (JSON, or the browsable API in a browser).
    path("", ApiRootView.as_view(), name=ROOT_NAME),
    path("", include("monitors.api.urls")),
    path("", include("results.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # Sign-in for the browsable API (session + CSRF).
    path("auth/", include("rest_framework.urls")),
]
