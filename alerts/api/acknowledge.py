"""``POST /api/monitors/{id}/acknowledge``: acknowledge a monitor's outage (docs/alerting.md,
Acknowledge): reminders and escalation stop until it recovers."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import ReadOrModelPermission
from alerts.acknowledge import MAX_REASON, NotDown, alert_acknowledge
from alerts.models import AlertState
from monitors.models import Monitor
from nanomon.api import params
from nanomon.api.renderers import RENDERER_CLASSES
from nanomon.api.schema import MONITOR_ID_PARAMETER, problem_responses

ACKNOWLEDGE = "alerts.change_alertstate"
ACKNOWLEDGE_PROBLEMS = (400, 401, 403, 404, 409, 415)
ACKNOWLEDGE_MEANINGS = {404: "No such monitor.", 409: "The monitor is not down."}


class AcknowledgeRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=MAX_REASON, allow_blank=True, required=False)


class AcknowledgementSerializer(serializers.Serializer):
    monitor_id = serializers.IntegerField()
    state = serializers.CharField()
    acknowledged_at = serializers.DateTimeField()
    acknowledged_by = serializers.CharField(allow_null=True)
    reason = serializers.CharField(allow_blank=True)


def acknowledgement_data(standing: AlertState) -> dict[str, object]:
    user = standing.acknowledged_by
    return {
        "monitor_id": standing.monitor_id,
        "state": standing.state,
        "acknowledged_at": standing.acknowledged_at,
        "acknowledged_by": user.get_username() if user else None,
        "reason": standing.acknowledged_reason,
    }


class NotDownConflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "the monitor is not down: there is nothing to acknowledge"


class AcknowledgeView(APIView):
    """Acknowledge the monitor's current outage."""

    permission_classes = [ReadOrModelPermission]
    renderer_classes = RENDERER_CLASSES
    action_permissions = {"acknowledge": (ACKNOWLEDGE,)}
    action = "acknowledge"

    @extend_schema(
        operation_id="monitors_acknowledge",
        summary="Acknowledge a monitor's outage",
        description="Reminders and escalation stop for this outage; the acknowledgement "
        "clears by itself when the monitor recovers. Acknowledging again replaces the reason.",
        parameters=[MONITOR_ID_PARAMETER],
        request=AcknowledgeRequestSerializer,
        responses={
            200: AcknowledgementSerializer,
            **problem_responses(*ACKNOWLEDGE_PROBLEMS, meanings=ACKNOWLEDGE_MEANINGS),
        },
    )
    def post(self, request: Request, id: str) -> Response:
        monitor_id = params.monitor_id(id)
        if not Monitor.objects.filter(pk=monitor_id).exists():
            raise NotFound("monitor not found")
        body = AcknowledgeRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            standing = alert_acknowledge(
                monitor_id,
                user=request.user,
                reason=body.validated_data.get("reason", ""),
                now=timezone.now(),
            )
        except NotDown as error:
            raise NotDownConflict(str(error)) from None
        return Response(acknowledgement_data(standing))
