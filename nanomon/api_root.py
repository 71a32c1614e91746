"""``/api/``: the API's routes, by name, as JSON and in the browsable API.

The list is read from the URLconf (``nanomon.api_urls``, plus ``/api/health`` and
``/api/status`` from ``metrics.urls``), so a route added there appears here on its own. Path
parameters are shown as ``{id}``, as in the OpenAPI schema. Reading it follows the same rule as
every other API read (``ReadOrModelPermission``): a signed-in user, or anyone with
``NANOMON_PUBLIC_READ=true``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.urls import URLPattern, URLResolver, reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import ReadOrModelPermission
from nanomon.api.schema import problem_responses

ROOT_NAME = "api-root"
# Routes kept out of the list: the root itself and the browsable API's sign-out (a POST form).
_UNLISTED = frozenset({ROOT_NAME, "logout"})
_PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>")


def api_routes() -> dict[str, str]:
    """Every named route under ``/api/``: name → path, parameters as ``{name}``.

    Names are the URL names without the ``api-`` prefix (``api-schema`` → ``schema``); a
    ``pk`` parameter is written ``{id}``, as the schema writes it (SCHEMA_COERCE_PATH_PK).
    """
    from nanomon import api_urls

    prefix = reverse(ROOT_NAME)
    routes = {
        name.removeprefix("api-"): prefix + _PARAMETER.sub(_parameter, route)
        for name, route in _named_routes(api_urls.urlpatterns, "")
        if name not in _UNLISTED
    }
    routes["health"] = reverse("metrics:health")
    routes["status"] = reverse("metrics:status")
    return routes


def _parameter(match: re.Match) -> str:
    name = match.group(1)
    return "{id}" if name == "pk" else f"{{{name}}}"


def _named_routes(
    patterns: Iterable[URLPattern | URLResolver], prefix: str
) -> Iterable[tuple[str, str]]:
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _named_routes(entry.url_patterns, route)
        elif entry.name:
            yield entry.name, route


class ApiRootView(APIView):
    """The routes of this API, by name. Errors are RFC 7807 problems; the OpenAPI schema is at
    `schema`, its interactive docs at `docs`."""

    permission_classes = [ReadOrModelPermission]

    def get_view_name(self) -> str:
        return "NanoMon API"

    @extend_schema(
        operation_id="api_root",
        summary="The API's routes",
        description="Route name → absolute URL; path parameters are written {id}.",
        responses={
            200: OpenApiResponse(
                {"type": "object", "additionalProperties": {"type": "string"}},
                "Route name → URL.",
            ),
            **problem_responses(401),
        },
    )
    def get(self, request: Request) -> Response:
        base = request.build_absolute_uri("/").rstrip("/")
        # Joined by hand: build_absolute_uri would percent-encode the braces of "{id}".
        return Response({name: base + path for name, path in api_routes().items()})
