"""``GET/PUT /api/monitors/{id}/dependencies``: the monitors it depends on, whether it is a
canary, and whether it is unreachable now (docs/alerting.md, Dependencies)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.exceptions import ValidationError as BadRequest
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import ReadOrModelPermission
from alerts.dependencies import (
    children_of,
    dependencies_set,
    is_canary,
    monitors_down,
    monitors_unreachable,
    parents_of,
)
from monitors.models import Monitor
from nanomon.api import params
from nanomon.api.renderers import RENDERER_CLASSES
from nanomon.api.schema import MONITOR_ID_PARAMETER, problem_responses

CHANGE_POLICY = "alerts.change_monitoralertpolicy"
MAX_PARENTS = 100
MEANINGS = {404: "No such monitor."}


class DependenciesRequestSerializer(serializers.Serializer):
    parents = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        max_length=MAX_PARENTS,
        help_text="The ids of the monitors this one depends on (all of them: replaces).",
    )
    canary = serializers.BooleanField(
        required=False, help_text="A self-check of the prober; left out: unchanged."
    )


class DependenciesSerializer(serializers.Serializer):
    monitor = serializers.IntegerField()
    parents = serializers.ListField(child=serializers.IntegerField())
    children = serializers.ListField(
        child=serializers.IntegerField(), help_text="The monitors that depend on this one."
    )
    parents_down = serializers.ListField(
        child=serializers.IntegerField(), help_text="The parents down or failing now."
    )
    canary = serializers.BooleanField()
    unreachable = serializers.CharField(
        allow_null=True,
        help_text="Why its down alert is held now: 'unreachable (parent down)' or "
        "'unreachable (prober cut off: every canary is down)'; null when it is not.",
    )


def dependencies_data(monitor_id: int) -> dict[str, object]:
    parents = [parent.pk for parent in parents_of(monitor_id)]
    return {
        "monitor": monitor_id,
        "parents": parents,
        "children": [child.pk for child in children_of(monitor_id)],
        "parents_down": sorted(monitors_down(parents)),
        "canary": is_canary(monitor_id),
        "unreachable": monitors_unreachable({monitor_id}).get(monitor_id),
    }


class DependenciesView(APIView):
    """A monitor's dependencies: read, replace."""

    permission_classes = [ReadOrModelPermission]
    renderer_classes = RENDERER_CLASSES
    action_permissions = {"update": (CHANGE_POLICY,)}

    def initial(self, request: Request, *args: object, **kwargs: object) -> None:
        if request.method == "PUT":  # other methods: no action, so a 405 for the unrouted
            self.action = "update"
        super().initial(request, *args, **kwargs)

    def _monitor(self, id: str) -> Monitor:
        monitor = Monitor.objects.filter(pk=params.monitor_id(id)).first()
        if monitor is None:
            raise NotFound("monitor not found")
        return monitor

    @extend_schema(
        operation_id="monitors_dependencies_retrieve",
        summary="Read a monitor's dependencies",
        parameters=[MONITOR_ID_PARAMETER],
        responses={
            200: DependenciesSerializer,
            **problem_responses(400, 401, 403, 404, meanings=MEANINGS),
        },
    )
    def get(self, request: Request, id: str) -> Response:
        return Response(dependencies_data(self._monitor(id).pk))

    @extend_schema(
        operation_id="monitors_dependencies_update",
        summary="Set a monitor's dependencies",
        description="While a parent is down, the monitor's down alert is held and sent only "
        "if it is still down when the parent recovers. A monitor cannot depend on itself or "
        "on a monitor that depends on it (400).",
        parameters=[MONITOR_ID_PARAMETER],
        request=DependenciesRequestSerializer,
        responses={
            200: DependenciesSerializer,
            **problem_responses(400, 401, 403, 404, 415, meanings=MEANINGS),
        },
    )
    def put(self, request: Request, id: str) -> Response:
        monitor = self._monitor(id)
        body = DependenciesRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            dependencies_set(
                monitor,
                parents=body.validated_data["parents"],
                canary=body.validated_data.get("canary"),
            )
        except DjangoValidationError as error:
            raise BadRequest(error.message_dict) from None
        return Response(dependencies_data(monitor.pk))
