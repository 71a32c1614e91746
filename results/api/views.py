"""Result endpoints (docs/api.md): newest first, ``max`` 1–1000, and keyset paging.

``GET /api/monitors/{id}/results`` of an unknown monitor is ``[]`` (NanoMon), not a 404.
A full page carries ``Link: <…?max=N&before=…&before_id=…>; rel="next"`` for the next one
(with ``since`` when the request had it). ``since``/``until`` keep a time range
(``nanomon.api.params.time_range``). The rollups of a monitor: ``results.api.rollups``.
"""

from __future__ import annotations

from urllib.parse import urlencode

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import ReadOrModelPermission, may_see_secrets
from nanomon.api import params
from nanomon.api.renderers import RENDERER_CLASSES, DeleteConfirmation
from nanomon.api.schema import MONITOR_ID_PARAMETER, problem_responses
from results.api.serializers import ResultSerializer
from results.models import Result
from results.selectors import results_latest
from results.services import results_delete_all


def or_empty(schema: dict[str, object]) -> dict[str, object]:
    """A query parameter's schema that also takes ``name=`` (empty: as if absent)."""
    return {"anyOf": [schema, {"type": "string", "maxLength": 0}]}


TIME_RANGE_PARAMETERS = [
    OpenApiParameter(
        "since",
        or_empty({"type": "string", "format": "date-time"}),
        description="Only results that ran at or after this RFC 3339 date (before until: "
        "400 otherwise).",
    ),
    OpenApiParameter(
        "until",
        or_empty({"type": "string", "format": "date-time"}),
        description="Only results that ran strictly before this RFC 3339 date.",
    ),
]
PAGING_PARAMETERS = [
    OpenApiParameter(
        "max",
        or_empty({"type": "integer", "minimum": 1, "maximum": params.MAX_LIMIT}),
        description="How many, 1–1000 (default 100, also when empty), newest first.",
    ),
    OpenApiParameter(
        "before",
        or_empty({"type": "string", "format": "date-time"}),
        description="Only results strictly older than this RFC 3339 date (paging).",
    ),
    OpenApiParameter(
        "before_id",
        or_empty({"type": "integer", "minimum": 1, "maximum": params.MAX_BEFORE_ID}),
        description="With before: also results of exactly that date with a smaller id (the "
        "cursor the Link header's next page uses).",
    ),
    *TIME_RANGE_PARAMETERS,
]
RESULTS_RESPONSES = {
    200: OpenApiResponse(
        ResultSerializer(many=True),
        'Results, newest first. A full page has a Link header with rel="next".',
    ),
    **problem_responses(400, 401),
}


class ResultViewSet(viewsets.GenericViewSet):
    """Results of all monitors or of one; delete them all."""

    queryset = Result.objects.none()  # reads go through results_latest
    serializer_class = ResultSerializer
    permission_classes = [ReadOrModelPermission]
    action_permissions = {"destroy_all": ("results.delete_result",)}
    filter_backends = []
    renderer_classes = RENDERER_CLASSES

    def get_serializer_context(self) -> dict[str, object]:
        reveal_secrets = may_see_secrets(self.request.user)
        return {**super().get_serializer_context(), "reveal_secrets": reveal_secrets}

    def delete_confirmation(self) -> DeleteConfirmation | None:
        """The browsable API's DELETE on ``/api/results`` deletes every result: say so (not
        counted: there may be millions)."""
        if self.action_map.get("delete") != "destroy_all":
            return None
        return DeleteConfirmation(
            question="Delete ALL results of every monitor?",
            detail="Every stored result is deleted, whatever the parameters in this address; "
            "the monitors stay, with their current status. This cannot be undone.",
            button="Delete all results",
            title="Delete every result of every monitor",
        )

    @extend_schema(
        operation_id="results_list",
        summary="Latest results across monitors",
        description="Newest first.",
        parameters=PAGING_PARAMETERS,
        responses=RESULTS_RESPONSES,
    )
    def list(self, request: Request, *args, **kwargs) -> Response:
        return self._results(request, monitor_id=None)

    @extend_schema(
        operation_id="monitors_results_list",
        summary="Latest results of a monitor",
        description="An unknown (or deleted) monitor has no results: 200 and [] (NanoMon).",
        parameters=[MONITOR_ID_PARAMETER, *PAGING_PARAMETERS],
        responses=RESULTS_RESPONSES,
    )
    def monitor_results(self, request: Request, *args, **kwargs) -> Response:
        return self._results(request, monitor_id=params.monitor_id(self.kwargs["id"]))

    @extend_schema(
        operation_id="results_delete_all",
        summary="Delete every result",
        description="Monitors keep their current status.",
        request=None,
        responses={204: None, **problem_responses(401, 403)},
    )
    def destroy_all(self, request: Request, *args, **kwargs) -> Response:
        results_delete_all()
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _results(self, request: Request, *, monitor_id: int | None) -> Response:
        limit = params.max_results(request.query_params.get("max"))
        before, before_id = params.cursor(request.query_params)
        since, until = params.time_range(request.query_params)
        results = results_latest(
            limit=limit,
            monitor_id=monitor_id,
            before=before,
            before_id=before_id,
            since=since,
            until=until,
        )
        response = Response(self.get_serializer(results, many=True).data)
        if len(results) == limit:
            last = results[-1]
            following = {"max": limit, "before": last.date.isoformat(), "before_id": last.id}
            if since is not None:  # the range goes on (until is behind the cursor already)
                following["since"] = since.isoformat()
            query = urlencode(following)
            response["Link"] = f'<{request.build_absolute_uri(request.path)}?{query}>; rel="next"'
        return response
