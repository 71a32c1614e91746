"""Maintenance windows: ``/api/maintenance`` (docs/api.md). Reads as every API read; writes
need the model permissions (editors and admins have them)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import viewsets

from accounts.permissions import ReadOrModelPermission
from alerts.api.serializers import MaintenanceWindowSerializer
from alerts.models import MaintenanceWindow
from nanomon.api.renderers import RENDERER_CLASSES
from nanomon.api.schema import problem_responses

ADD, CHANGE, DELETE = (
    "alerts.add_maintenancewindow",
    "alerts.change_maintenancewindow",
    "alerts.delete_maintenancewindow",
)
_MEANINGS = {404: "No such maintenance window."}
_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The window's id.")


def problems(*codes: int) -> dict:
    return problem_responses(*codes, meanings=_MEANINGS)


@extend_schema_view(
    list=extend_schema(
        operation_id="maintenance_list",
        summary="List maintenance windows",
        description="Every window, with whether it is active now and when it next starts.",
        responses={200: MaintenanceWindowSerializer(many=True), **problems(401, 403)},
    ),
    create=extend_schema(
        operation_id="maintenance_create",
        summary="Create a maintenance window",
        description="One-off (starts_at, ends_at) or recurring (weekly, monthly or cron, "
        "with duration_minutes), read in time_zone; covering the monitors listed or "
        "all_monitors. Answers 201 with the window.",
        responses={201: MaintenanceWindowSerializer, **problems(400, 401, 403, 415)},
    ),
    retrieve=extend_schema(
        operation_id="maintenance_retrieve",
        summary="Read a maintenance window",
        parameters=[_ID],
        responses={200: MaintenanceWindowSerializer, **problems(401, 403, 404)},
    ),
    update=extend_schema(
        operation_id="maintenance_update",
        summary="Replace a maintenance window",
        parameters=[_ID],
        responses={200: MaintenanceWindowSerializer, **problems(400, 401, 403, 404, 415)},
    ),
    partial_update=extend_schema(
        operation_id="maintenance_partial_update",
        summary="Change some fields of a maintenance window",
        parameters=[_ID],
        responses={200: MaintenanceWindowSerializer, **problems(400, 401, 403, 404, 415)},
    ),
    destroy=extend_schema(
        operation_id="maintenance_delete",
        summary="Delete a maintenance window",
        description="A down alert it was holding is sent by the sweeper's next pass.",
        parameters=[_ID],
        responses={204: None, **problems(401, 403, 404)},
    ),
)
class MaintenanceWindowViewSet(viewsets.ModelViewSet):
    """Maintenance windows: list, create, read, replace, change, delete."""

    queryset = MaintenanceWindow.objects.prefetch_related("monitors")
    serializer_class = MaintenanceWindowSerializer
    permission_classes = [ReadOrModelPermission]
    renderer_classes = RENDERER_CLASSES
    pagination_class = None
    lookup_value_regex = r"\d+"
    action_permissions = {
        "create": (ADD,),
        "update": (CHANGE,),
        "partial_update": (CHANGE,),
        "destroy": (DELETE,),
    }
