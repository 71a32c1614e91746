"""The viewer, editor and admin role groups with their permissions (accounts.roles).

Idempotent (groups are fetched or created, permissions only added) and reversible (the
reverse removes the three groups).
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from accounts.roles import ADMIN_APPS, ROLES, grant_role_permissions


def create_roles(apps, schema_editor):
    # Permissions are normally created after all migrations (post_migrate); a fresh database
    # has none yet, so create those of the apps the roles cover first.
    for label in ADMIN_APPS:
        app_config = apps.get_app_config(label)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    grant_role_permissions(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"))


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("monitors", "0001_initial"),
        ("results", "0001_initial"),
        ("alerts", "0002_builtin_email_channel"),
        ("metrics", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
