"""Single sign-on around the dashboard's own sign-in and sign-out pages (``web:login``,
``web:logout``), which belong to the ``web`` app:

- ``OIDC_LOCAL_LOGIN=false``: ``/login`` shows only "Sign in with <provider>" (and refuses
  a password POST), in place of the password form.
- Signing out of a session that came from the provider also ends the provider's session: the
  redirect after ``POST /logout`` goes to the provider's ``end_session_endpoint``, which sends
  the browser back to ``/login``. The URL is built before the session (and its ID token) ends.

Inert while single sign-on is off.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from accounts import providers, views

REDIRECTS = {301, 302, 303, 307, 308}


class SingleSignOnMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        provider_logout = getattr(request, "sso_logout_url", None)
        if provider_logout and response.status_code in REDIRECTS:
            response["Location"] = provider_logout
        return response

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        match = request.resolver_match
        name = match.view_name if match else ""
        if name == "web:login" and not providers.local_login_allowed():
            return views.sign_in_sso_only(request)
        if (
            name == "web:logout"
            and request.method == "POST"
            and request.session.get("oidc_id_token")
        ):
            request.sso_logout_url = providers.logout_url(request)
        return None
