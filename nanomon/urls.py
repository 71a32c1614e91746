"""URL map: Django admin, /metrics, the API under /api/, and the dashboard pages."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    # /metrics, /api/health and /api/status: before the api/ include so they win.
    path("", include("metrics.urls")),
    # /ping/<token>… and /api/push/<token>: push monitors report in (loop/urls.py).
    path("", include("loop.urls")),
    path("api/", include("nanomon.api_urls")),
    # /oidc/: sign-in through the OpenID provider (404 until single sign-on is configured).
    path("", include("accounts.urls")),
    # Every page (web/urls.py): / is the monitors page, /monitors/<id> the page alerts link to.
    path("", include("web.urls")),
]

# Errors under /api/ are RFC 7807 problems (JSON); every other page keeps Django's own.
handler400 = "nanomon.api.problems.api_bad_request"
handler403 = "nanomon.api.problems.api_permission_denied"
handler404 = "nanomon.api.problems.api_page_not_found"
handler500 = "nanomon.api.problems.api_server_error"
