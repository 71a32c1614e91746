"""Monitor routes, mounted under /api/ (no trailing slashes, as NanoMon).

The fixed words (import, export, test) come before ``<id>``; an id that is not an integer is
answered 400 by the view (NanoMon), so the converter is ``str``.
"""

from django.urls import path

from monitors.api.views import MonitorViewSet

urlpatterns = [
    path(
        "monitors",
        MonitorViewSet.as_view({"get": "list", "post": "create", "delete": "destroy_all"}),
        name="monitors",
    ),
    path(
        "monitors/import",
        MonitorViewSet.as_view({"post": "import_monitors"}),
        name="monitors-import",
    ),
    path(
        "monitors/export",
        MonitorViewSet.as_view({"get": "export_monitors"}),
        name="monitors-export",
    ),
    path("monitors/test", MonitorViewSet.as_view({"post": "test"}), name="monitors-test"),
    path(
        "monitors/<str:id>",
        MonitorViewSet.as_view({"get": "retrieve", "put": "update", "delete": "destroy"}),
        name="monitor",
    ),
    path(
        "monitors/<str:id>/push_token",
        MonitorViewSet.as_view({"post": "push_token_rotate"}),
        name="monitor-push-token",
    ),
    path(
        "monitors/<str:id>/test",
        MonitorViewSet.as_view({"post": "test_monitor"}),
        name="monitor-test",
    ),
]
