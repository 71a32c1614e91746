"""Who someone is at an OpenID provider, linked to a NanoMon user."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class OidcIdentity(models.Model):
    """One person or program at one OpenID provider (issuer + subject) → one NanoMon user.

    Users are found by this pair only, never by e-mail or username: an address can change
    or be reused, a subject cannot. An administrator links an existing account by adding a
    row here in the admin before its owner first signs in.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oidc_identities"
    )
    issuer = models.CharField(max_length=500)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    last_sign_in_at = models.DateTimeField(
        null=True, blank=True, help_text="Last browser sign-in (API calls are not recorded)."
    )

    class Meta:
        verbose_name = "OpenID identity"
        verbose_name_plural = "OpenID identities"
        constraints = [
            # identity lookups on every sign-in and bearer request: (issuer, subject) → user.
            models.UniqueConstraint(
                fields=["issuer", "subject"], name="accounts_oidcidentity_issuer_subject_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer}"
