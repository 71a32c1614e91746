"""RFC 7807 problem bodies for every API error, from DRF views and from Django alike.

Every error under ``/api/`` answers ``{"type", "title", "status", "detail", "instance"}`` with
``Content-Type: application/problem+json`` (the browsable API shows the same body as HTML).
NanoMon's clients read ``detail``, so it is always one human sentence: the first error found.
``type`` is ``about:blank``, so ``title`` is the HTTP reason phrase (RFC 7807 §4.2).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from http import HTTPStatus

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.views import exception_handler

from lib.errors import first_error_message, first_message

PROBLEM_CONTENT_TYPE = "application/problem+json"
API_PREFIX = "/api/"
# Errors of the database connection (not of a query): refused, reset, timed out, closed.
DATABASE_UNAVAILABLE_ERRORS = (OperationalError, InterfaceError)
DATABASE_UNAVAILABLE_DETAIL = "the database is unavailable, try again shortly"

logger = logging.getLogger(__name__)


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "request body too large"
    default_code = "too_large"


class DatabaseUnavailable(exceptions.APIException):
    """The database could not be reached: the request may work again shortly (503, not 500)."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = DATABASE_UNAVAILABLE_DETAIL
    default_code = "database_unavailable"


def problem(status_code: int, detail: str, instance: str) -> dict[str, object]:
    """The problem object for one error."""
    return {
        "type": "about:blank",
        "title": HTTPStatus(status_code).phrase,
        "status": status_code,
        # An echoed unpaired surrogate could not be encoded as UTF-8: keep it as an escape.
        "detail": detail.encode("utf-8", "backslashreplace").decode("utf-8"),
        "instance": instance,
    }


def problem_exception_handler(exc: Exception, context: Mapping[str, object]):
    """DRF's ``EXCEPTION_HANDLER``: DRF's own handling, then the body turned into a problem.

    Django ``ValidationError`` (from the services) becomes 400, an oversized body 413 and a
    database that cannot be reached 503 (its error, which names the server, is logged, not
    answered); anything else unexpected is left to Django (a 500, answered by
    ``api_server_error``).
    """
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(first_error_message(exc))
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, DATABASE_UNAVAILABLE_ERRORS):
        logger.error("database unavailable: %s", exc)
        exc = DatabaseUnavailable()
    response = exception_handler(exc, context)
    if response is None:
        return None
    request = context.get("request")
    path = request.path if request is not None else ""
    response.data = problem(response.status_code, first_message(response.data), path)
    renderer = getattr(request, "accepted_renderer", None)
    if renderer is None or renderer.format == "json":
        response.content_type = PROBLEM_CONTENT_TYPE
    return response


def problem_response(request: HttpRequest, status_code: int, detail: str) -> HttpResponse:
    """A problem answered outside DRF (unknown routes, Django's error handlers)."""
    return HttpResponse(
        json.dumps(problem(status_code, detail, request.path)),
        status=status_code,
        content_type=PROBLEM_CONTENT_TYPE,
    )


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX) or request.path == API_PREFIX.rstrip("/")


def _resolves(path: str) -> bool:
    try:
        resolve(path)
    except Resolver404:
        return False
    return True


# Django's error handlers (``handler400`` … in the root URLconf): problems under /api/, the
# usual pages everywhere else.


def api_bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return problem_response(request, 400, "bad request")
    return defaults.bad_request(request, exception)


def api_permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return problem_response(request, 403, str(exception) or "permission denied")
    return defaults.permission_denied(request, exception)


def api_page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        detail = "no such API route"
        if request.path.endswith("/") and _resolves(request.path.rstrip("/")):
            detail += f": API routes have no trailing slash, use {request.path.rstrip('/')}"
        return problem_response(request, 404, detail)
    return defaults.page_not_found(request, exception)


def api_server_error(request: HttpRequest) -> HttpResponse:
    """500, or 503 when the database could not be reached outside a DRF view (middleware, a
    plain Django view): Django calls this handler while it handles the exception, and has
    logged it already."""
    if _is_api(request):
        if isinstance(sys.exc_info()[1], DATABASE_UNAVAILABLE_ERRORS):
            return problem_response(request, 503, DATABASE_UNAVAILABLE_DETAIL)
        return problem_response(request, 500, "internal server error")
    return defaults.server_error(request)
