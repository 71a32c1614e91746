"""Pages that belong to no area: sign-in, sign-out, about, and the favicon."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.views.decorators.http import require_GET

from web.access import can_read


class SignInView(auth_views.LoginView):
    """``/login``: the app's own sign-in page. Extra sign-in options (single sign-on) go in
    ``web/_sign_in_options.html``."""

    template_name = "web/login.html"
    redirect_authenticated_user = True


class SignOutView(auth_views.LogoutView):
    """``/logout`` (POST only, with CSRF)."""


@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    """``/favicon.ico``, which browsers ask for on pages without an icon link (the API docs)."""
    return redirect(static("img/favicon.svg"))  # 302: the hashed name changes with the file


@require_GET
def about(request: HttpRequest) -> HttpResponse:
    """Version, where the API lives, how sign-in works, and who is signed in. Open to all."""
    user = request.user
    context = {
        "version": settings.VERSION,
        "build_info": settings.BUILD_INFO,
        "can_read": can_read(user),
        "prometheus_enabled": settings.PROMETHEUS_ENABLED,
        "permissions": [
            (label, user.has_perm(permission))
            for label, permission in (
                ("Create monitors", "monitors.add_monitor"),
                ("Change monitors", "monitors.change_monitor"),
                ("Delete monitors", "monitors.delete_monitor"),
                ("Delete results", "results.delete_result"),
            )
        ]
        if user.is_authenticated
        else [],
    }
    return render(request, "web/about.html", context)
