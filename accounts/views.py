"""Sign-in through the provider: mozilla-django-oidc's views, fed by ``accounts.providers``.

``/oidc/authenticate/`` sends the browser to the provider (state, nonce, PKCE S256),
``/oidc/callback/`` takes it back and signs the user in, ``/oidc/logout/`` signs out there
too. All answer 404 while browser sign-in is not configured.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.views.generic import View
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
    get_next_url,
)

from accounts import providers

logger = logging.getLogger(__name__)

FAILED = "Single sign-on did not sign you in. Try again, or ask an administrator to check the log."


class SignInStartView(OIDCAuthenticationRequestView):
    """``/oidc/authenticate/?next=…``: off to the provider's authorization endpoint."""

    def __init__(self, **kwargs) -> None:
        # mozilla-django-oidc reads fixed settings here; the endpoint may need discovery.
        View.__init__(self, **kwargs)

    def get(self, request: HttpRequest) -> HttpResponse:
        provider = providers.browser_provider()
        if provider is None:
            raise Http404("single sign-on is not configured")
        try:
            self.OIDC_OP_AUTH_ENDPOINT = provider.endpoint("authorization_endpoint")
        except (providers.ProviderUnavailable, providers.ProviderMisconfigured) as error:
            logger.warning("single sign-on cannot start: %s", error)
            messages.error(
                request, f"{provider.name} cannot be reached right now. Try again later."
            )
            return redirect(settings.LOGIN_URL)
        self.OIDC_RP_CLIENT_ID = provider.client_id
        return super().get(request)


class SignInCallbackView(OIDCAuthenticationCallbackView):
    """``/oidc/callback/``: the provider's answer. Failures go back to the sign-in page with a
    message (the reason is in the log)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if providers.browser_provider() is None:
            raise Http404("single sign-on is not configured")
        try:
            return super().get(request)
        except SuspiciousOperation as error:  # an unknown or replayed state
            logger.warning("single sign-on callback refused: %s", error)
            return self.login_failure()

    @property
    def failure_url(self) -> str:
        return resolve_url(settings.LOGIN_URL)

    def login_failure(self) -> HttpResponse:
        messages.error(self.request, getattr(self.request, "sso_failure", None) or FAILED)
        return super().login_failure()


def sign_in_sso_only(request: HttpRequest) -> HttpResponse:
    """The sign-in page when ``OIDC_LOCAL_LOGIN=false``: the provider's button, no password
    form (rendered in place of ``/login`` by ``accounts.middleware``)."""
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    next_url = get_next_url(request, "next") or ""
    if request.user.is_authenticated and not next_url:
        return redirect(settings.LOGIN_REDIRECT_URL)
    return render(
        request,
        "accounts/sign_in.html",
        {"next": next_url, "start_url": reverse("oidc_authentication_init")},
    )
