"""``GET /api/monitors/{id}/rollups?resolution=hour|day&since=&until=`` (docs/api.md): a
monitor's hour or day buckets over a time range, from its rollups (``results.history``).

Defaults: ``resolution=hour``; without ``since`` the last 24 hours (hour) or 30 days (day)
before ``until`` (default now). A range is at most ``MAX_BUCKETS`` buckets. A bucket without
runs is absent (nothing ran). Reads need what the results routes need.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import ReadOrModelPermission
from monitors.models import Monitor
from nanomon.api import params
from nanomon.api.renderers import RENDERER_CLASSES
from nanomon.api.schema import MONITOR_ID_PARAMETER, problem_responses
from results.api.views import TIME_RANGE_PARAMETERS, or_empty
from results.history import Bucket, rollup_series

RESOLUTIONS = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
DEFAULT_SPAN = {"hour": timedelta(hours=24), "day": timedelta(days=30)}
MAX_BUCKETS = 10_000


class RollupBucketSerializer(serializers.Serializer):
    """One hour or day of a monitor's runs."""

    start = serializers.DateTimeField(help_text="Start of the UTC hour or day.")
    runs = serializers.IntegerField(help_text="Runs that started in it.")
    runs_ok = serializers.IntegerField()
    runs_error = serializers.IntegerField()
    runs_failed = serializers.IntegerField()
    runs_maintenance = serializers.IntegerField(
        help_text="Of the runs, those that started inside a maintenance window."
    )
    uptime = serializers.FloatField(
        allow_null=True,
        help_text="Percent of OK runs among the runs outside maintenance; null without such runs.",
    )
    value_min = serializers.FloatField(
        allow_null=True, help_text="Of OK and Error runs' values; null when none."
    )
    value_avg = serializers.FloatField(allow_null=True)
    value_max = serializers.FloatField(allow_null=True)
    value_p95 = serializers.FloatField(
        allow_null=True, help_text="95th percentile, within 4.9 % (a log-spaced sketch)."
    )


class RollupsSerializer(serializers.Serializer):
    """A monitor's buckets over a range, oldest first."""

    monitor_id = serializers.IntegerField()
    resolution = serializers.ChoiceField(choices=list(RESOLUTIONS))
    since = serializers.DateTimeField(help_text="Start of the range (inclusive).")
    until = serializers.DateTimeField(help_text="End of the range (exclusive).")
    buckets = RollupBucketSerializer(many=True)


def bucket_json(bucket: Bucket) -> dict[str, object]:
    return {
        "start": bucket.start,
        "runs": bucket.runs,
        "runs_ok": bucket.runs_ok,
        "runs_error": bucket.runs_error,
        "runs_failed": bucket.runs_failed,
        "runs_maintenance": bucket.runs_maintenance,
        "uptime": bucket.uptime,
        "value_min": bucket.value_min,
        "value_avg": bucket.value_avg,
        "value_max": bucket.value_max,
        "value_p95": bucket.value_p95,
    }


class MonitorRollupsView(APIView):
    permission_classes = [ReadOrModelPermission]
    renderer_classes = RENDERER_CLASSES

    @extend_schema(
        operation_id="monitors_rollups_list",
        summary="A monitor's runs per hour or day",
        description="Runs by status, uptime and min/avg/max/p95 of the values per UTC hour or "
        "day, from the rollups (kept ROLLUP_HOURLY_RETENTION / ROLLUP_RETENTION days). Default: "
        "the last 24 hours hourly, or the last 30 days daily. An hour or day without runs is "
        f"absent. At most {MAX_BUCKETS} buckets per request.",
        parameters=[
            MONITOR_ID_PARAMETER,
            OpenApiParameter(
                "resolution",
                or_empty({"type": "string", "enum": list(RESOLUTIONS)}),
                description="hour (default) or day.",
            ),
            *TIME_RANGE_PARAMETERS,
        ],
        responses={
            200: OpenApiResponse(RollupsSerializer, "The buckets, oldest first."),
            **problem_responses(400, 401, 403, 404),
        },
    )
    def get(self, request: Request, id: str) -> Response:
        monitor_id = params.monitor_id(id)
        resolution = request.query_params.get("resolution") or "hour"
        if resolution not in RESOLUTIONS:
            raise ValidationError("resolution must be hour or day")
        since, until = params.time_range(request.query_params)
        until = until or timezone.now()
        since = since or until - DEFAULT_SPAN[resolution]
        if since >= until:
            raise ValidationError("since must be before until")
        if (until - since) / RESOLUTIONS[resolution] > MAX_BUCKETS:
            raise ValidationError(f"a range is at most {MAX_BUCKETS} {resolution}s")
        if not Monitor.objects.filter(pk=monitor_id).exists():
            raise NotFound("monitor not found")
        buckets = rollup_series(monitor_id, since=since, until=until, resolution=resolution)
        body = {
            "monitor_id": monitor_id,
            "resolution": resolution,
            "since": since,
            "until": until,
            "buckets": [bucket_json(bucket) for bucket in buckets],
        }
        return Response(RollupsSerializer(body).data)
