from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Single sign-on: OpenID Connect sign-in, bearer tokens for the API, and the roles."""

    name = "accounts"
    verbose_name = "Accounts and single sign-on"

    def ready(self) -> None:
        # The OpenAPI security scheme of the bearer authentication (drf-spectacular extension).
        from accounts import schema  # noqa: F401
