"""``/api/backup`` and ``/api/backup_full`` (gosrvmon's routes, docs/backup.md): GET downloads
a backup (streamed, an attachment), POST restores one (read from the request's stream, never
as a whole body), all or nothing.

Who may: a backup is read by a signed-in user who may read (secret monitor properties, sealed
as stored, only for those who may change monitors, channel secrets only for admins: the admin
role or a superuser; the header says which were masked). ``?secrets=plain`` asks for them in
plaintext: admins only (who may see both kinds). A restore replaces monitors, their history,
alert channels and maintenance windows: it needs the permissions to add, change and delete
monitors, alert policies, channels and maintenance windows (the admin role, or a superuser).
"""

from __future__ import annotations

import logging

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import may_see_secrets
from accounts.roles import may_read
from backups.dump import backup_chunks
from backups.records import CONFIG, FULL, Refused
from backups.restore import restore_stream
from nanomon.api.problems import PROBLEM_CONTENT_TYPE, problem
from nanomon.api.renderers import RENDERER_CLASSES
from nanomon.api.schema import problem_responses

logger = logging.getLogger(__name__)

MEDIA_TYPE = "application/x-ndjson"
RESTORE_PERMISSIONS = tuple(
    f"{app}.{action}_{model}"
    for app, model in (
        ("monitors", "monitor"),
        ("alerts", "channel"),
        ("alerts", "monitoralertpolicy"),
        ("alerts", "maintenancewindow"),
    )
    for action in ("add", "change", "delete")
)
CHANNEL_SECRETS_PERMISSION = "alerts.change_channel"


def may_see_channel_secrets(user) -> bool:
    """Admins (the admin role holds ``alerts.change_channel``) and superusers."""
    return bool(user and user.is_authenticated and user.has_perm(CHANNEL_SECRETS_PERMISSION))


def may_restore(user) -> bool:
    return bool(user and user.is_authenticated and user.has_perms(RESTORE_PERMISSIONS))


class BackupPermission(BasePermission):
    message = "restoring a backup replaces monitors and alert channels: it needs the admin role"

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False  # a 401: backups are never public, even with NANOMON_PUBLIC_READ
        if request.method in SAFE_METHODS:
            self.message = "you may not read monitors"
            return may_read(user)
        return may_restore(user)


class _FirstRenderer(BaseContentNegotiation):
    """The backup is JSON Lines whatever the Accept header; problems are JSON."""

    def select_parser(self, request, parsers):
        return None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class BackupView(APIView):
    """GET: the backup as JSON Lines (an attachment). POST: restore a backup sent as the
    request body (`curl --data-binary @backup.jsonl`); the backup becomes the state, or
    nothing changes and a 400 names the line."""

    kind = CONFIG
    permission_classes = [BackupPermission]
    renderer_classes = RENDERER_CLASSES
    content_negotiation_class = _FirstRenderer

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "secrets",
                str,
                enum=["plain"],
                description="plain: secrets in plaintext (admins only); left out: secrets "
                "sealed as stored (enc:v1:…), or masked for those who may not see them.",
            )
        ],
        responses={
            (200, MEDIA_TYPE): OpenApiResponse(description="The backup, one record per line."),
            **problem_responses(400, 401, 403),
        },
    )
    def get(self, request: Request):
        user = request.user
        monitor_secrets, channel_secrets = may_see_secrets(user), may_see_channel_secrets(user)
        asked = request.query_params.get("secrets", "")
        if asked not in ("", "plain"):
            body = problem(400, "secrets must be 'plain' or left out", request.path)
            return Response(body, status=400, content_type=PROBLEM_CONTENT_TYPE)
        plaintext = asked == "plain"
        if plaintext and not (monitor_secrets and channel_secrets):
            body = problem(403, "a backup with secrets in plaintext is for admins", request.path)
            return Response(body, status=403, content_type=PROBLEM_CONTENT_TYPE)
        chunks = backup_chunks(
            self.kind,
            monitor_secrets=monitor_secrets,
            channel_secrets=channel_secrets,
            plaintext=plaintext,
        )
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        name = f"nanomon-backup{'-full' if self.kind == FULL else ''}-{stamp}.jsonl"
        response = StreamingHttpResponse(chunks, content_type=MEDIA_TYPE)
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        response["Cache-Control"] = "no-store"
        logger.info(
            "backup (%s%s) read by user %s",
            self.kind,
            ", secrets in plaintext" if plaintext else "",
            user.pk,
        )
        return response

    @extend_schema(
        # Any content type is read as the backup's lines (curl sends application/json, as
        # gosrvmon's examples do).
        request={"application/octet-stream": {"type": "string", "format": "binary"}},
        responses={
            200: OpenApiResponse(description="Restored: the records of each type."),
            **problem_responses(400, 401, 403),
        },
    )
    def post(self, request: Request) -> Response:
        try:
            restored = restore_stream(request._request.readline, kind=self.kind)
        except Refused as refused:
            body = problem(400, str(refused), request.path)
            if refused.line:
                body["line"] = refused.line
            return Response(body, status=400, content_type=PROBLEM_CONTENT_TYPE)
        logger.info(
            "backup (%s) restored by user %s: %s", self.kind, request.user.pk, restored.counts
        )
        return Response({"kind": restored.header.kind, "restored": restored.counts})


class FullBackupView(BackupView):
    """As ``/api/backup``, with each monitor's state, results and rollups."""

    kind = FULL
