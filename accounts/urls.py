"""``/oidc/``: sign-in through the OpenID provider (mozilla-django-oidc's routes, with the
views of ``accounts.views`` set by ``OIDC_AUTHENTICATE_CLASS`` / ``OIDC_CALLBACK_CLASS``)."""

from django.urls import include, path

urlpatterns = [
    path("oidc/", include("mozilla_django_oidc.urls")),
]
