"""``/metrics``, ``/api/health`` and ``/api/status`` (a trailing slash is accepted too)."""

from django.urls import re_path

from metrics import views

app_name = "metrics"
urlpatterns = [
    re_path(r"^metrics/?$", views.metrics, name="metrics"),
    re_path(r"^api/health/?$", views.health, name="health"),
    re_path(r"^api/status/?$", views.status, name="status"),
]
