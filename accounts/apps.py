from django.apps import AppConfig
from django.apps import apps as global_apps
from django.db.models.signals import post_migrate


def grant_roles_after_migrate(*, sender: AppConfig, apps=global_apps, **kwargs: object) -> None:
    """Keep the role groups in step with the models: once every app's permissions exist
    (post_migrate of the last installed app), the roles get what they cover of them, so a
    model added later (e.g. results' rollups) is readable by viewers at once. Only adds: an
    admin's extra grants stay (accounts.roles.grant_role_permissions)."""
    from accounts.roles import ROLES, grant_role_permissions

    if sender.label != list(global_apps.get_app_configs())[-1].label:
        return
    group = apps.get_model("auth", "Group")
    # Only the role groups that exist (the roles migration makes them, and role_group() when
    # one is needed again): migrating back past the roles leaves none to fill.
    existing = list(group.objects.filter(name__in=ROLES).values_list("name", flat=True))
    if existing:
        grant_role_permissions(group, apps.get_model("auth", "Permission"), roles=existing)


class AccountsConfig(AppConfig):
    """Single sign-on: OpenID Connect sign-in, bearer tokens for the API, and the roles."""

    name = "accounts"
    verbose_name = "Accounts and single sign-on"

    def ready(self) -> None:
        # The OpenAPI security scheme of the bearer authentication (drf-spectacular extension).
        from accounts import schema  # noqa: F401

        post_migrate.connect(grant_roles_after_migrate, dispatch_uid="nanomon-roles")
