"""Who may see and do what on the pages: the API's rules (``accounts.permissions``).

- Reading needs a signed-in user, or nobody at all with ``NANOMON_PUBLIC_READ=true``; with
  ``OIDC_DEFAULT_ROLE=none`` a signed-in user needs a role too (``accounts.roles.may_read``).
- Writing needs the Django model permission the action names (``monitors.add_monitor`` …).
- Anonymous visitors who may not read are sent to the sign-in page; signed-in users who lack
  a permission (or a role, to read) get a 403 page saying so.

Live fragments are fetched by htmx: instead of a redirect that would swap the sign-in page into
the fragment, a visitor whose session ended gets ``HX-Redirect`` to the sign-in page.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url

from accounts.permissions import may_see_secrets
from accounts.roles import NO_ROLE_DETAIL, may_read

__all__ = ["can_read", "may_see_secrets", "permission_required", "read_required"]

View = Callable[..., HttpResponse]


def can_read(user) -> bool:
    """Whether ``user`` may see monitors and results."""
    return may_read(user)


def _to_sign_in(request: HttpRequest) -> HttpResponse:
    if request.headers.get("HX-Request") == "true":
        page = urlsplit(request.headers.get("HX-Current-URL", ""))
        next_path = page.path + (f"?{page.query}" if page.query else "") if page.path else "/"
        target = redirect_to_login(next_path, resolve_url(settings.LOGIN_URL))["Location"]
        # 200, not 401: htmx follows HX-Redirect either way, and a 4xx would log a console error.
        response = HttpResponse(status=200)
        response["HX-Redirect"] = target
        return response
    return redirect_to_login(request.get_full_path(), resolve_url(settings.LOGIN_URL))


def read_required(view: View) -> View:
    """Let readers in; send anonymous visitors to sign in (unless reads are public); 403 for
    signed-in users without a role when users get none by default."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if can_read(request.user):
            return view(request, *args, **kwargs)
        if request.user.is_authenticated:
            raise PermissionDenied(NO_ROLE_DETAIL)
        return _to_sign_in(request)

    return wrapper


def permission_required(*permissions: str) -> Callable[[View], View]:
    """Let in signed-in users holding any one of ``permissions``; 403 for the others, the
    sign-in page for anonymous visitors."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            user = request.user
            if not user.is_authenticated:
                return _to_sign_in(request)
            if not any(user.has_perm(permission) for permission in permissions):
                raise PermissionDenied("you do not have permission to do this")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
