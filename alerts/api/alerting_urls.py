"""Channels, policies and history under /api/ (no trailing slashes, as the rest of the API)."""

from django.urls import path

from alerts.api.channel_views import AlertPolicyViewSet, ChannelViewSet
from alerts.api.dependencies import DependenciesView
from alerts.api.history import AlertHistoryView

urlpatterns = [
    path("channels", ChannelViewSet.as_view({"get": "list", "post": "create"}), name="channels"),
    path(
        "channels/<int:pk>",
        ChannelViewSet.as_view(
            {"get": "retrieve", "put": "update", "patch": "partial_update", "delete": "destroy"}
        ),
        name="channel",
    ),
    path("channels/<int:pk>/test", ChannelViewSet.as_view({"post": "test"}), name="channel-test"),
    path(
        "channels/<int:pk>/preview",
        ChannelViewSet.as_view({"post": "preview"}),
        name="channel-preview",
    ),
    path(
        "monitors/<int:id>/alert_policy",
        AlertPolicyViewSet.as_view({"get": "retrieve", "put": "update"}),
        name="monitor-alert-policy",
    ),
    path("alerts/history", AlertHistoryView.as_view(), name="alerts-history"),
    path("monitors/<str:id>/dependencies", DependenciesView.as_view(), name="monitor-dependencies"),
]
