"""Monitor endpoints (docs/api.md): NanoMon's routes, plus filters, export and a test action.

Thin: parameters and JSON are read here, the work is done by services and selectors. NanoMon
answers 200 (not 201) to a create and 204 to deletes and imports; so does this API.
"""

from __future__ import annotations

from django.db import connection
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.exceptions import APIException, NotFound, PermissionDenied, ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import ReadOrModelPermission, may_see_secrets
from monitors.api.listing import monitors_data, monitors_json
from monitors.api.serializers import (
    CheckResultSerializer,
    CheckSerializer,
    ExportedMonitorSerializer,
    MonitorSerializer,
    exported_definitions,
)
from monitors.engine import CheckRequest, CheckResult
from monitors.filtersets import MonitorFilterSet
from monitors.imports import monitors_import
from monitors.models import Monitor
from monitors.oneoff import (
    NoWorkerAnswered,
    OneOffError,
    QueueUnavailable,
    TooManyTests,
    WebBusy,
    one_off_check,
)
from monitors.probes import is_passive
from monitors.secrets import masked_target
from monitors.selectors import monitor_get, monitors_for_export, monitors_list
from monitors.services import monitor_delete, monitors_delete_all, push_token_rotate
from nanomon.api import params
from nanomon.api.renderers import RENDERER_CLASSES, DeleteConfirmation
from nanomon.api.schema import MONITOR_ID_PARAMETER, problem_responses

ADD, CHANGE, DELETE = "monitors.add_monitor", "monitors.change_monitor", "monitors.delete_monitor"

# What this API's own problems mean (the kit words the common ones: nanomon.api.schema).
_PROBLEM_MEANINGS = {
    404: "No such monitor.",
    429: "You already have NANOMON_TEST_PER_USER tests running (Retry-After says when to "
    "try again).",
    503: "This web server is waiting for as many tests as it may, or the broker is down "
    "(Retry-After).",
    504: "No worker answered within NANOMON_TEST_TIMEOUT: no worker is running, or none "
    "consumes the tests queue.",
}


def problems(*codes: int) -> dict:
    """Schema entries for the error responses a monitor operation may give."""
    return problem_responses(*codes, meanings=_PROBLEM_MEANINGS)


READ_PROBLEMS = problems(400, 401)
WRITE_PROBLEMS = problems(400, 401, 403, 413, 415)
TEST_PROBLEMS = problems(429, 503, 504)


class TestRefused(APIException):
    """A "Test now" that could not run or answer (``monitors.oneoff``), as a problem."""

    def __init__(self, error: OneOffError, status_code: int) -> None:
        super().__init__(str(error))
        self.status_code = status_code
        self.wait = error.retry_after  # DRF answers it as Retry-After


_TEST_STATUS = {
    TooManyTests: status.HTTP_429_TOO_MANY_REQUESTS,
    WebBusy: status.HTTP_503_SERVICE_UNAVAILABLE,
    QueueUnavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
    NoWorkerAnswered: status.HTTP_504_GATEWAY_TIMEOUT,
}


def run_test(check: CheckRequest, request: Request) -> CheckResult:
    """Run a one-off check on a worker for this request's user, or answer why not."""
    if is_passive(check.kind):
        raise ValidationError(
            "a push monitor is not probed: it waits for its job's pings (its push URLs)"
        )
    try:
        return one_off_check(check, user_id=request.user.pk)
    except OneOffError as error:
        raise TestRefused(error, _TEST_STATUS[type(error)]) from None


def check_result_data(
    result: CheckResult, request: CheckRequest, monitor: Monitor | None, name: str
) -> dict[str, object]:
    """A one-off check's result in a stored result's shape (plus the type that ran)."""
    return {
        "date": result.started_at,
        "status": int(result.status),
        "value": result.value,
        "message": result.message,
        "monitor_id": monitor.id if monitor else None,
        "monitor_name": name,
        "monitor_target": request.target,
        # As stored results: transient outputs (the HTTP body) are never sent back.
        "outputs": result.stored_outputs,
        "type": request.kind,
    }


class MonitorViewSet(viewsets.GenericViewSet):
    """Monitors: list, create, read, replace, delete; bulk import/export; one-off tests."""

    queryset = Monitor.objects.select_related("state")  # for introspection; reads: selectors
    serializer_class = MonitorSerializer
    filterset_class = MonitorFilterSet
    permission_classes = [ReadOrModelPermission]
    renderer_classes = RENDERER_CLASSES
    action_permissions = {
        "create": (ADD,),
        "update": (CHANGE,),
        "destroy": (DELETE,),
        "destroy_all": (DELETE,),
        "import_monitors": (ADD,),
        # A test makes outbound requests from the server: for people who may define monitors.
        "test": (ADD, CHANGE),
        "test_monitor": (ADD, CHANGE),
        "push_token_rotate": (CHANGE,),
    }

    def get_queryset(self):
        return monitors_list()

    def delete_confirmation(self) -> DeleteConfirmation | None:
        """The browsable API's DELETE on ``/api/monitors`` deletes every monitor: say so."""
        if self.action_map.get("delete") != "destroy_all":
            return None  # /api/monitors/{id}: DRF's "delete this Monitor?" is right there
        count = Monitor.objects.count()
        noun, their = ("monitor", "its") if count == 1 else ("monitors", "their")
        return DeleteConfirmation(
            question=f"Delete ALL {count} {noun} and all {their} results?",
            detail="Every monitor is deleted, whatever the filters in this address, with all "
            "its results, and their runs stop. This cannot be undone.",
            button=f"Delete all {count} {noun}",
            title="Delete every monitor and all their results",
        )

    def get_serializer_context(self) -> dict[str, object]:
        reveal_secrets = may_see_secrets(self.request.user)
        return {**super().get_serializer_context(), "reveal_secrets": reveal_secrets}

    def get_object(self) -> Monitor:
        try:
            return monitor_get(params.monitor_id(self.kwargs["id"]))
        except Monitor.DoesNotExist:
            raise NotFound("monitor not found") from None

    @extend_schema(
        operation_id="monitors_list",
        summary="List monitors",
        description="Every monitor; filters: type, enabled, status (of the last run) and "
        "search (in the name or the target).",
        responses={200: MonitorSerializer(many=True), **READ_PROBLEMS},
    )
    def list(self, request: Request, *args, **kwargs) -> HttpResponse:
        monitors = self.filter_queryset(self.get_queryset())
        reveal_secrets = may_see_secrets(request.user)
        if connection.vendor == "postgresql" and isinstance(
            request.accepted_renderer, JSONRenderer
        ):  # JSON written by the database (monitors/api/listing.py): 10,000 monitors in 0.1 s
            body = monitors_json(monitors, reveal_secrets=reveal_secrets)
            return HttpResponse(body, content_type=request.accepted_renderer.media_type)
        return Response(monitors_data(monitors, reveal_secrets=reveal_secrets))

    @extend_schema(
        operation_id="monitors_create",
        summary="Create a monitor",
        description="Validated in NanoMon's order, with its messages; an absent enabled is "
        "false. Answers 200 with the monitor, which runs at once when enabled.",
        responses={200: MonitorSerializer, **WRITE_PROBLEMS},
    )
    def create(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(serializer.data)

    @extend_schema(
        operation_id="monitors_delete_all",
        summary="Delete every monitor and its results",
        description="Stops their runs too.",
        request=None,
        responses={204: None, **problems(401, 403)},
    )
    def destroy_all(self, request: Request, *args, **kwargs) -> Response:
        monitors_delete_all()
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        operation_id="monitors_retrieve",
        summary="Read a monitor",
        description="Secret properties are masked unless you may change monitors.",
        parameters=[MONITOR_ID_PARAMETER],
        responses={200: MonitorSerializer, **problems(400, 401, 404)},
    )
    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(
        operation_id="monitors_update",
        summary="Replace a monitor's definition",
        description="Every editable field is replaced: an absent field is empty (enabled: false). "
        "A masked secret sent back unchanged keeps the stored secret.",
        parameters=[MONITOR_ID_PARAMETER],
        responses={200: MonitorSerializer, **WRITE_PROBLEMS, **problems(404)},
    )
    def update(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(self.get_object(), data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            serializer.save()
        except Monitor.DoesNotExist:  # deleted while this request was on its way
            raise NotFound("monitor not found") from None
        return Response(serializer.data)

    @extend_schema(
        operation_id="monitors_destroy",
        summary="Delete a monitor and its results",
        description="Its runs stop.",
        parameters=[MONITOR_ID_PARAMETER],
        responses={204: None, **problems(400, 401, 403, 404)},
    )
    def destroy(self, request: Request, *args, **kwargs) -> Response:
        if not monitor_delete(self.get_object()):  # deleted by someone else meanwhile
            raise NotFound("monitor not found")
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        operation_id="monitors_import",
        summary="Import monitors",
        description="A JSON array of monitors (the export's format). Every element is checked "
        "before anything is stored; the first bad one is a 400 'monitor <n>: <reason>' (n from "
        "1) and nothing changes. mode=replace deletes every existing monitor and its results "
        "first, in the same transaction (needs the delete permission too).",
        parameters=[
            OpenApiParameter(
                "mode", str, enum=["append", "replace"], description="Default: append."
            )
        ],
        request=ExportedMonitorSerializer(many=True),
        responses={204: None, **WRITE_PROBLEMS},
    )
    def import_monitors(self, request: Request, *args, **kwargs) -> Response:
        mode = request.query_params.get("mode") or "append"
        if mode not in {"append", "replace"}:
            raise ValidationError("mode must be append or replace")
        if mode == "replace" and not request.user.has_perm(DELETE):
            raise PermissionDenied("mode=replace also needs permission to delete monitors")
        items = request.data
        if not isinstance(items, list):
            raise ValidationError("the body must be a JSON array of monitors")
        monitors_import(exported_definitions(items), replace=mode == "replace")
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        operation_id="monitors_export",
        summary="Export monitors",
        description="Every monitor in creation order, without id and updated: the import "
        "format. Secret properties are masked unless you may change monitors.",
        responses={200: ExportedMonitorSerializer(many=True), **problems(401)},
    )
    def export_monitors(self, request: Request, *args, **kwargs) -> Response:
        reveal_secrets = may_see_secrets(request.user)
        return Response(
            monitors_data(monitors_for_export(), reveal_secrets=reveal_secrets, exported=True)
        )

    @extend_schema(
        operation_id="monitors_test",
        summary="Run a one-off check (not stored)",
        description="Runs the check now on a worker and returns its result without storing "
        "anything. type may be left out: it is detected from the target. The request waits "
        "at most NANOMON_TEST_TIMEOUT (20s) for it, and the check's own timeout is cut to "
        "that. Each person may have NANOMON_TEST_PER_USER (2) tests running at once. Needs "
        "permission to add or change monitors.",
        request=CheckSerializer,
        responses={200: CheckResultSerializer, **WRITE_PROBLEMS, **TEST_PROBLEMS},
    )
    def test(self, request: Request, *args, **kwargs) -> Response:
        serializer = CheckSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        check = CheckSerializer.check_request(serializer.validated_data)
        result = run_test(check, request)
        data = check_result_data(result, check, None, serializer.validated_data["name"])
        return Response(CheckResultSerializer(data).data)

    @extend_schema(
        operation_id="monitors_test_stored",
        summary="Run a stored monitor once (not stored)",
        description="Runs the monitor's check now on a worker and returns the result without "
        "storing it, as POST /api/monitors/test does. Needs permission to add or change "
        "monitors.",
        parameters=[MONITOR_ID_PARAMETER],
        request=None,
        responses={200: CheckResultSerializer, **problems(400, 401, 403, 404), **TEST_PROBLEMS},
    )
    def test_monitor(self, request: Request, *args, **kwargs) -> Response:
        monitor = self.get_object()
        check = monitor.check_request()
        result = run_test(check, request)
        data = check_result_data(result, check, monitor, monitor.name)
        if not may_see_secrets(request.user):  # may add monitors, not change (nor see) this one
            data["monitor_target"] = masked_target(check.target)
        return Response(CheckResultSerializer(data).data)

    @extend_schema(
        operation_id="monitors_push_token_rotate",
        summary="Give a push monitor a new token",
        description="Its old ping URLs answer 404 from now on; the answer is the monitor with "
        "its new pushUrl. Needs permission to change monitors.",
        parameters=[MONITOR_ID_PARAMETER],
        request=None,
        responses={200: MonitorSerializer, **problems(400, 401, 403, 404)},
    )
    def push_token_rotate(self, request: Request, *args, **kwargs) -> Response:
        monitor = self.get_object()
        if not is_passive(monitor.kind):
            raise ValidationError("only a push monitor has a push token")
        push_token_rotate(monitor)
        return Response(self.get_serializer(monitor).data)
