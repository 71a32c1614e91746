"""Alert channels (``/api/channels``) and a monitor's alert policy
(``/api/monitors/{id}/alert_policy``), docs/api.md. Reads as every API read; channel writes
and tests need the channel model permissions (admins: channels hold credentials), a policy
needs ``alerts.change_monitoralertpolicy`` (editors and admins)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import ReadOrModelPermission
from alerts.api.channel_serializers import (
    AlertPolicySerializer,
    ChannelPreviewRequestSerializer,
    ChannelPreviewSerializer,
    ChannelSerializer,
    ChannelTestSerializer,
    refused,
)
from alerts.configuration import channel_delete
from alerts.delivery import channel_send_test
from alerts.models import Channel, MonitorAlertPolicy
from alerts.previews import channel_preview
from monitors.models import Monitor
from nanomon.api.renderers import RENDERER_CLASSES
from nanomon.api.schema import problem_responses

ADD, CHANGE, DELETE = "alerts.add_channel", "alerts.change_channel", "alerts.delete_channel"
CHANGE_POLICY = "alerts.change_monitoralertpolicy"
_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The channel's id.")
_MONITOR = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The monitor's id.")


def problems(*codes: int) -> dict:
    return problem_responses(*codes, meanings={404: "No such channel."})


@extend_schema_view(
    list=extend_schema(
        operation_id="channels_list",
        summary="List alert channels",
        description="Every channel with its masked config, a summary and its health "
        "(failing channels: health.state is failing, with the last error).",
        responses={200: ChannelSerializer(many=True), **problems(401, 403)},
    ),
    create=extend_schema(
        operation_id="channels_create",
        summary="Create an alert channel",
        description="kind email, webhook or apprise with its config (docs/alerting.md). "
        "is_default (true unless sent): notified by monitors without a selection of their "
        "own, new monitors included. tags: monitors with any of them also notify it, "
        "whatever their selection. Answers 201 with the channel, secrets masked.",
        responses={201: ChannelSerializer, **problems(400, 401, 403, 415)},
    ),
    retrieve=extend_schema(
        operation_id="channels_retrieve",
        summary="Read an alert channel",
        parameters=[_ID],
        responses={200: ChannelSerializer, **problems(401, 403, 404)},
    ),
    update=extend_schema(
        operation_id="channels_update",
        summary="Replace an alert channel",
        description="Secrets left out, blank or masked keep their stored value.",
        parameters=[_ID],
        responses={200: ChannelSerializer, **problems(400, 401, 403, 404, 415)},
    ),
    partial_update=extend_schema(
        operation_id="channels_partial_update",
        summary="Change some fields of an alert channel (e.g. enabled)",
        description="Without config the stored config stays. Secrets left out, blank or "
        "masked keep their stored value.",
        parameters=[_ID],
        responses={200: ChannelSerializer, **problems(400, 401, 403, 404, 415)},
    ),
    destroy=extend_schema(
        operation_id="channels_delete",
        summary="Delete an alert channel",
        description="With its notifications. The built-in channel (ALERT_SMTP_*) cannot be "
        "deleted: 400 (disable it instead).",
        parameters=[_ID],
        responses={204: None, **problems(400, 401, 403, 404)},
    ),
    test=extend_schema(
        operation_id="channels_test",
        summary="Send a test notification",
        description="Sends at once (no retries), also on a disabled channel, and records it "
        "like any delivery (a test notification, its attempt, the channel's health).",
        parameters=[_ID],
        request=None,
        responses={200: ChannelTestSerializer, **problems(401, 403, 404)},
    ),
    preview=extend_schema(
        operation_id="channels_preview",
        summary="Preview the channel's messages",
        description="A sample event (down, reminder, up or test) rendered with the "
        "channel's message templates, or with the subject_template / body_template sent "
        "(checked as when saved: 400 with config.<name>). Sends nothing.",
        parameters=[_ID],
        request=ChannelPreviewRequestSerializer,
        responses={200: ChannelPreviewSerializer, **problems(400, 401, 403, 404, 415)},
    ),
)
class ChannelViewSet(viewsets.ModelViewSet):
    """Alert channels: list, create, read, replace, change, delete, test."""

    queryset = Channel.objects.all()
    serializer_class = ChannelSerializer
    permission_classes = [ReadOrModelPermission]
    renderer_classes = RENDERER_CLASSES
    pagination_class = None
    lookup_value_regex = r"\d+"
    action_permissions = {
        "create": (ADD,),
        "update": (CHANGE,),
        "partial_update": (CHANGE,),
        "destroy": (DELETE,),
        "test": (CHANGE,),
        "preview": (CHANGE,),
    }

    def perform_destroy(self, channel: Channel) -> None:
        try:
            channel_delete(channel)
        except DjangoValidationError as error:
            raise refused(error) from None

    @action(detail=True, methods=["post"])
    def test(self, request: Request, pk: str | None = None) -> Response:
        channel = self.get_object()
        outcome = channel_send_test(channel)
        body = {
            "succeeded": outcome.succeeded,
            "error": outcome.error or "",
            "notification": outcome.notification_id,
        }
        return Response(ChannelTestSerializer(body).data)

    @action(detail=True, methods=["post"])
    def preview(self, request: Request, pk: str | None = None) -> Response:
        channel = self.get_object()
        asked = ChannelPreviewRequestSerializer(data=request.data)
        asked.is_valid(raise_exception=True)
        templates = {
            name: asked.validated_data[name]
            for name in ("subject_template", "body_template")
            if name in asked.validated_data
        }
        event = asked.validated_data["event"]
        try:
            subject, body = channel_preview(channel, event, now=timezone.now(), templates=templates)
        except DjangoValidationError as error:
            raise refused(error) from None
        body = {"event": event, "subject": subject, "body": body}
        return Response(ChannelPreviewSerializer(body).data)


@extend_schema_view(
    retrieve=extend_schema(
        operation_id="monitors_alert_policy_retrieve",
        summary="Read a monitor's alert policy",
        description="All defaults (null thresholds, default channels) until one is set. "
        "tag_channels (read-only): the channels its tags also notify.",
        parameters=[_MONITOR],
        responses={
            200: AlertPolicySerializer,
            **problem_responses(401, 403, 404, meanings={404: "No such monitor."}),
        },
    ),
    update=extend_schema(
        operation_id="monitors_alert_policy_update",
        summary="Set a monitor's alert policy",
        description="The whole policy: fields left out take their default (null, "
        "muted false, use_default_channels true, no channels). From the next run on.",
        parameters=[_MONITOR],
        responses={
            200: AlertPolicySerializer,
            **problem_responses(400, 401, 403, 404, 415, meanings={404: "No such monitor."}),
        },
    ),
)
class AlertPolicyViewSet(viewsets.GenericViewSet):
    """One monitor's alert policy: read, replace."""

    serializer_class = AlertPolicySerializer
    permission_classes = [ReadOrModelPermission]
    renderer_classes = RENDERER_CLASSES
    queryset = MonitorAlertPolicy.objects.all()
    action_permissions = {"update": (CHANGE_POLICY,)}

    def get_object(self) -> MonitorAlertPolicy:
        monitor = get_object_or_404(Monitor, pk=self.kwargs["id"])
        policy = MonitorAlertPolicy.objects.filter(monitor=monitor).first()
        if policy is None:
            return MonitorAlertPolicy(monitor=monitor)
        policy.monitor = monitor  # its tags name the tag_channels
        return policy

    def retrieve(self, request: Request, id: str | None = None) -> Response:
        return Response(self.get_serializer(self.get_object()).data)

    def update(self, request: Request, id: str | None = None) -> Response:
        serializer = self.get_serializer(self.get_object(), data=request.data)
        serializer.is_valid(raise_exception=True)
        policy = serializer.save()
        return Response(self.get_serializer(policy).data)
