"""The API's OpenAPI pieces shared by every app: the problem body, the error responses an
operation documents, the monitor id parameter, and the site-wide drf-spectacular
``POSTPROCESSING_HOOKS`` (the monitor definitions' hook is ``monitors.api.schema``)."""

from __future__ import annotations

from collections.abc import Mapping

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from nanomon.api.problems import PROBLEM_CONTENT_TYPE

# What the common problems mean; an app's API adds or rewords its own (``meanings``).
PROBLEM_MEANINGS = {
    400: "Invalid input; detail says what (the first problem found).",
    401: "Not signed in (no or bad token, no session).",
    403: "Signed in without the permission this needs.",
    404: "No such object.",
    413: "Request body too large.",
    415: "Body is not application/json.",
}

MONITOR_ID_PARAMETER = OpenApiParameter(
    "id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Monitor id (not an integer: 400)."
)


class ProblemSerializer(serializers.Serializer):
    """An RFC 7807 problem, as every error is answered."""

    type = serializers.CharField(help_text="about:blank")
    title = serializers.CharField(help_text="The HTTP reason phrase.")
    status = serializers.IntegerField(help_text="The HTTP status code.")
    detail = serializers.CharField(help_text="What went wrong, in one sentence.")
    instance = serializers.CharField(help_text="The request path.")


def problem_responses(*codes: int, meanings: Mapping[int, str] | None = None) -> dict:
    """Schema entries for the error responses an operation may give (RFC 7807 bodies)."""
    known = {**PROBLEM_MEANINGS, **(meanings or {})}
    return {
        (code, PROBLEM_CONTENT_TYPE): OpenApiResponse(ProblemSerializer, known[code])
        for code in codes
    }


# Response bodies that always carry every field (null where the field says so). Their
# writable fields are optional on input, which would otherwise leave them optional here too.
COMPLETE_RESPONSES = ("Monitor", "ExportedMonitor", "Result", "CheckResult", "Problem")


def require_response_fields(result, generator, request, public):
    """Mark every property of the complete response components as required."""
    schemas = result.get("components", {}).get("schemas", {})
    for name in COMPLETE_RESPONSES:
        if name in schemas:
            schemas[name]["required"] = sorted(schemas[name].get("properties", {}))
    return result
