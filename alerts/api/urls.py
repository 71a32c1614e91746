"""Alerting routes under /api/ (no trailing slashes, as the rest of the API)."""

from django.urls import path

from alerts.api.acknowledge import AcknowledgeView
from alerts.api.views import MaintenanceWindowViewSet

urlpatterns = [
    path(
        "maintenance",
        MaintenanceWindowViewSet.as_view({"get": "list", "post": "create"}),
        name="maintenance",
    ),
    path(
        "maintenance/<int:pk>",
        MaintenanceWindowViewSet.as_view(
            {"get": "retrieve", "put": "update", "patch": "partial_update", "delete": "destroy"}
        ),
        name="maintenance-window",
    ),
    path("monitors/<str:id>/acknowledge", AcknowledgeView.as_view(), name="monitor-acknowledge"),
]
