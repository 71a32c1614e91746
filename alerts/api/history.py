"""``GET /api/alerts/history``: outages newest first, each with what was seen, its
notifications and their delivery attempts (docs/api.md, Alert history). Paged as results:
``max`` and the ``before`` / ``before_id`` cursor a full page's ``Link: rel="next"`` gives."""

from __future__ import annotations

from urllib.parse import urlencode

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import ReadOrModelPermission
from alerts.history import Outage, outages
from lib.status import STATUS_HELP
from nanomon.api import params
from nanomon.api.renderers import RENDERER_CLASSES
from nanomon.api.schema import problem_responses


class AttemptSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField()
    succeeded = serializers.BooleanField()
    error = serializers.CharField(allow_blank=True)


class NotificationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    channel = serializers.IntegerField(source="channel_id")
    channel_name = serializers.CharField(source="channel.name")
    event = serializers.CharField(help_text="down, up or reminder")
    sequence = serializers.IntegerField(help_text="n for the n-th reminder, else 0")
    status = serializers.CharField(help_text="pending, sending, sent, failed or cancelled")
    attempts = AttemptSerializer(many=True, source="delivery_attempts.all")
    created_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True)
    last_error = serializers.CharField(allow_blank=True)


class SeenSerializer(serializers.Serializer):
    """The run that opened the outage."""

    status = serializers.IntegerField(help_text=STATUS_HELP)
    message = serializers.CharField(allow_blank=True)
    value = serializers.FloatField()
    outputs = serializers.DictField(allow_null=True, help_text="What the rule was checked on.")
    date = serializers.DateTimeField()


class OutageSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="down.id", help_text="The down transition's id.")
    monitor = serializers.IntegerField(source="down.monitor_id")
    monitor_name = serializers.CharField(source="down.monitor_name")
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True, help_text="Null: still down.")
    duration_seconds = serializers.SerializerMethodField()
    failures = serializers.IntegerField(source="down.failures")
    first_message = serializers.CharField(source="down.reason", allow_blank=True)
    last_message = serializers.CharField(allow_blank=True)
    seen = SeenSerializer(allow_null=True, help_text="Null once retention dropped the run.")
    notifications = NotificationSerializer(many=True)

    def get_duration_seconds(self, outage: Outage) -> float:
        return outage.duration_seconds(self.context["now"])


def or_empty(schema: dict[str, object]) -> dict[str, object]:
    """A query parameter's schema that also takes ``name=`` (empty: as if absent)."""
    return {"anyOf": [schema, {"type": "string", "maxLength": 0}]}


_PARAMETERS = [
    OpenApiParameter(
        "monitor", or_empty({"type": "integer"}), description="Only this monitor's outages."
    ),
    OpenApiParameter(
        "max",
        or_empty({"type": "integer", "minimum": 1, "maximum": params.MAX_LIMIT}),
        description="Outages per page: 1-1000 (default 100), newest first.",
    ),
    OpenApiParameter(
        "before",
        or_empty({"type": "string", "format": "date-time"}),
        description="Cursor: outages that started before this RFC 3339 date.",
    ),
    OpenApiParameter(
        "before_id",
        or_empty({"type": "integer", "minimum": 1, "maximum": params.MAX_BEFORE_ID}),
        description="With before: also those of exactly that start with a smaller id.",
    ),
]


class AlertHistoryView(APIView):
    permission_classes = [ReadOrModelPermission]
    renderer_classes = RENDERER_CLASSES

    @extend_schema(
        operation_id="alerts_history",
        summary="Alert history: outages with their notifications",
        description="Outages newest first (start: the down transition, end: the next "
        "transition), what was seen, first and last message, every notification with its "
        "delivery attempts. A full page has a Link header to the next.",
        parameters=_PARAMETERS,
        responses={200: OutageSerializer(many=True), **problem_responses(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        query = request.query_params
        limit = params.max_results(query.get("max"))
        before, before_id = params.cursor(query)
        monitor = query.get("monitor")
        monitor_id = params.monitor_id(monitor) if monitor not in (None, "") else None
        found = outages(monitor_id=monitor_id, before=before, before_id=before_id, limit=limit)
        body = OutageSerializer(found, many=True, context={"now": timezone.now()}).data
        response = Response(body)
        if len(found) == limit:
            last = found[-1]
            following = {
                "max": limit,
                "before": last.started_at.isoformat(),
                "before_id": last.down.id,
            }
            if monitor_id is not None:
                following["monitor"] = monitor_id
            url = request.build_absolute_uri(request.path) + "?" + urlencode(following)
            response["Link"] = f'<{url}>; rel="next"'
        return response
