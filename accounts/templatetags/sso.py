"""``{% single_sign_on as sso %}``: the provider's sign-in option for the sign-in pages."""

from __future__ import annotations

from django import template
from django.urls import reverse

from accounts import providers

register = template.Library()


@register.simple_tag
def single_sign_on() -> dict[str, object] | None:
    """``{"name", "url", "local_login"}`` when people may sign in with the provider."""
    provider = providers.browser_provider()
    if provider is None:
        return None
    return {
        "name": provider.name,
        "url": reverse("oidc_authentication_init"),
        "local_login": providers.local_login_allowed(),
    }
