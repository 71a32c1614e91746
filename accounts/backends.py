"""The authentication backend for OpenID Connect sign-in (mozilla-django-oidc's code flow).

mozilla-django-oidc runs the flow (state, nonce, PKCE, the code exchange); this subclass
changes what it trusts:

- the ID token is checked in full (``accounts.tokens``: signature with the provider's cached
  keys, algorithm allow-list, issuer, audience and ``azp``, expiry, nonce), where the library
  checks neither issuer nor audience;
- the userinfo answer must be about the ID token's subject;
- the user is found by issuer + subject (``accounts.services``), never by e-mail.

It is always listed in ``AUTHENTICATION_BACKENDS`` and does nothing until a provider is set up.
It is also where a bearer request's scope-granted permissions are answered (``has_perm``).
"""

from __future__ import annotations

import logging
from urllib.parse import quote

import requests
from django.contrib.auth import get_user_model
from django.core.exceptions import SuspiciousOperation
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from accounts import providers, services
from accounts.roles import role_grants
from accounts.tokens import TokenError, validate_id_token

logger = logging.getLogger(__name__)

# Claims of the ID token that a userinfo answer may not override.
ID_TOKEN_CLAIMS = ("iss", "sub", "aud", "azp", "exp", "iat", "nbf", "nonce", "tid")


class OidcBackend(OIDCAuthenticationBackend):
    def __init__(self, *args, **kwargs) -> None:
        # Django builds backends for every session lookup: no settings checks or network here.
        self.UserModel = get_user_model()

    def authenticate(self, request, **kwargs):
        """Only for mozilla-django-oidc's callback view (it passes ``nonce`` and
        ``code_verifier``); never for a username and password."""
        if request is None or set(kwargs) - {"nonce", "code_verifier"} or "nonce" not in kwargs:
            return None
        provider = providers.browser_provider()
        if provider is None:
            return None
        self.provider = provider
        try:
            self.OIDC_OP_TOKEN_ENDPOINT = provider.endpoint("token_endpoint")
            self.OIDC_OP_USER_ENDPOINT = provider.endpoint("userinfo_endpoint", required=False)
            self.OIDC_RP_CLIENT_ID = provider.client_id
            self.OIDC_RP_CLIENT_SECRET = provider.client_secret
            return super().authenticate(request, **kwargs)
        except services.SignInRefused as refused:
            message = str(refused)
            request.sso_failure = f"{message[:1].upper()}{message[1:]}."
        except (
            TokenError,
            SuspiciousOperation,
            providers.ProviderUnavailable,
            providers.ProviderMisconfigured,
            requests.RequestException,
            ValueError,
        ) as error:
            logger.warning("single sign-on failed: %s", error)
        return None

    def get_token(self, payload: dict) -> dict:
        """The code exchange, authenticating as the provider expects (Basic by default)."""
        auth = None
        if self.provider.token_auth_basic():
            secret = payload.pop("client_secret")
            # RFC 6749 §2.3.1: both are form-urlencoded before Basic encoding.
            auth = (quote(payload["client_id"], safe=""), quote(secret, safe=""))
        response = requests.post(
            self.OIDC_OP_TOKEN_ENDPOINT,
            data=payload,
            auth=auth,
            timeout=self.get_settings("OIDC_TIMEOUT"),
        )
        self.raise_token_response_error(response)
        return response.json()

    def verify_token(self, token: str, **kwargs) -> dict:
        return validate_id_token(token, self.provider, nonce=kwargs.get("nonce"))

    def get_or_create_user(self, access_token, id_token, payload):
        claims = dict(payload)
        if self.OIDC_OP_USER_ENDPOINT:
            userinfo = self.get_userinfo(access_token, id_token, payload)
            if not isinstance(userinfo, dict) or userinfo.get("sub") != payload["sub"]:
                raise SuspiciousOperation("the userinfo answer is about another subject")
            claims.update({k: v for k, v in userinfo.items() if k not in ID_TOKEN_CLAIMS})
        return services.identity_sign_in(claims, self.provider)

    def has_perm(self, user_obj, perm: str, obj=None) -> bool:
        # The scope's role first: it needs no query.
        role = getattr(user_obj, "oidc_scope_role", None)
        if role and user_obj.is_active and role_grants(role, perm):
            return True
        return super().has_perm(user_obj, perm, obj)
