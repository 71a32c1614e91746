"""``Authorization: Bearer <JWT>`` for the API: the provider's access tokens, checked locally.

No call to the provider per request: the signature is checked against its cached signing keys
(``accounts.jwks``), then algorithm, expiry, issuer and audience (``accounts.tokens``).

- no credentials, on a route that needs them → 401,
  ``WWW-Authenticate: Bearer realm="nanomon", Token``;
- a token that fails any check, or has no scope claim (``scp``/``scope``) → 401,
  ``Bearer realm="nanomon", error="invalid_token", error_description="…"``;
- a valid token without ``OIDC_WRITE_SCOPE`` on a write (any method but GET, HEAD, OPTIONS)
  → 401, ``Bearer realm="nanomon", error="insufficient_scope", error_description="…",
  scope="system.admin"``;
- a valid token whose subject has no user (``OIDC_CREATE_USER=false``) or a deactivated one
  → 401 ``invalid_token``;
- the provider's signing keys cannot be read and none are cached → 503 (not the token's fault).

Writes need the scope with a 401, not RFC 6750's 403: NanoMon answers every token failure with
401 and its clients rely on it. A valid token stands for the user linked to its issuer and
subject (created on first use, see ``accounts.services``). For that request the user holds,
on top of their own permissions, the editor role's permissions when the token has the write
scope (every API write), or the viewer role's when it has not.

Every answer is an RFC 7807 problem (``nanomon.api.problems``). The exceptions here are not
DRF's ``AuthenticationFailed``: DRF would replace their header with the first authentication
class's.
"""

from __future__ import annotations

import logging
import re

from rest_framework import exceptions, status
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import SAFE_METHODS

from accounts import providers, services
from accounts.roles import EDITOR, VIEWER
from accounts.tokens import TokenError, validate_access_token

logger = logging.getLogger(__name__)

REALM = "nanomon"
# RFC 6750 §3: error_description is printable ASCII without '"' and '\'.
UNQUOTABLE = re.compile(r"[^\x20-\x21\x23-\x5b\x5d-\x7e]")


def challenge(error: str | None = None, description: str = "", scope: str = "") -> str:
    """A ``Bearer`` challenge for ``WWW-Authenticate``."""
    parts = [f'realm="{REALM}"']
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append(f'error_description="{UNQUOTABLE.sub("_", description)}"')
    if scope:
        parts.append(f'scope="{UNQUOTABLE.sub("_", scope)}"')
    return "Bearer " + ", ".join(parts)


class BearerTokenRefused(exceptions.APIException):
    """401 with the token's error in ``WWW-Authenticate``."""

    status_code = status.HTTP_401_UNAUTHORIZED
    default_code = "invalid_token"

    def __init__(self, description: str, *, error: str = "invalid_token", scope: str = "") -> None:
        super().__init__(f"bearer token refused: {description}", code=error)
        self.auth_header = challenge(error, description, scope)


class ProviderUnreachable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "the identity provider's signing keys cannot be read: try again later"
    default_code = "provider_unavailable"


class BearerTokenAuthentication(BaseAuthentication):
    """DRF authentication for the provider's bearer JWTs; inert until a provider is set up.

    First in ``DEFAULT_AUTHENTICATION_CLASSES`` for its challenge: DRF takes the
    ``WWW-Authenticate`` of a 401 from the first class (``Token`` alone when SSO is off, as
    before). Other schemes (``Token …``) and sessions are left to the classes after it.
    """

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != b"bearer":
            return None
        provider = providers.current()
        if provider is None:
            return None
        if len(parts) != 2:
            raise BearerTokenRefused("the Authorization header must be 'Bearer <token>'")
        try:
            token = parts[1].decode("ascii")
            claims, scopes = validate_access_token(token, provider)
            may_write = provider.write_scope in scopes
            if request.method not in SAFE_METHODS and not may_write:
                raise BearerTokenRefused(
                    f"writes need the {provider.write_scope} scope",
                    error="insufficient_scope",
                    scope=provider.write_scope,
                )
            user = services.user_for_token(claims, provider)
        except UnicodeDecodeError:
            raise BearerTokenRefused("the token is not a JWT") from None
        except TokenError as error:
            raise BearerTokenRefused(str(error)) from None
        except (providers.ProviderUnavailable, providers.ProviderMisconfigured) as error:
            logger.warning("bearer token not checked: %s", error)
            raise ProviderUnreachable() from None
        # Read by accounts.backends.OidcBackend.has_perm, for this request only.
        user.oidc_scope_role = EDITOR if may_write else VIEWER
        return user, claims

    def authenticate_header(self, request) -> str:
        if providers.current() is None:
            return "Token"
        return f"{challenge()}, Token"
