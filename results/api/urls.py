"""Result routes, mounted under /api/ (no trailing slashes, as NanoMon)."""

from django.urls import path

from results.api.rollups import MonitorRollupsView
from results.api.views import ResultViewSet

urlpatterns = [
    path(
        "results",
        ResultViewSet.as_view({"get": "list", "delete": "destroy_all"}),
        name="results",
    ),
    path(
        "monitors/<str:id>/results",
        ResultViewSet.as_view({"get": "monitor_results"}),
        name="monitor-results",
    ),
    path("monitors/<str:id>/rollups", MonitorRollupsView.as_view(), name="monitor-rollups"),
]
