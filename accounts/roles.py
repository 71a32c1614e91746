"""The three roles, viewer, editor and admin: Django groups holding model permissions.

- **viewer**: every ``view_*`` permission of the monitors, results and alerts apps.
- **editor**: viewer, plus add/change/delete monitors, delete results, change the alert
  policy of a monitor, re-send notifications (``alerts.change_notification``), manage
  maintenance windows and acknowledge alerts (``alerts.change_alertstate``).
- **admin**: every permission of the monitors, results, alerts and metrics apps (alert
  channels hold credentials, so only admins manage them).

The groups are created by ``accounts/migrations/0002_roles.py`` and again on demand
(``role_group``) if they are missing. A role's permissions are only ever added, never taken
away: permissions an administrator adds to or removes from a group in the admin stay as they
are. A migration that adds a model calls ``grant_role_permissions`` again for its roles.

Reading (``may_read``): every signed-in user reads while new users get a role
(``OIDC_DEFAULT_ROLE`` viewer, editor or admin, the default). With ``OIDC_DEFAULT_ROLE=none`` a
signed-in user reads only when a role lets them (``monitors.view_monitor``, which every role
holds): a user without one reads nothing, pages and API answer 403 with ``NO_ROLE_DETAIL``.
``NANOMON_PUBLIC_READ=true`` lets everyone read, whatever their role.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.db import transaction

VIEWER, EDITOR, ADMIN = "viewer", "editor", "admin"
ROLES = (VIEWER, EDITOR, ADMIN)

READ_APPS = ("monitors", "results", "alerts")
# What makes a reader when users get no role by default: every role holds it.
READ_PERMISSION = "monitors.view_monitor"
NO_ROLE_DETAIL = (
    "your account has no role in NanoMon, so it may not read anything "
    "(OIDC_DEFAULT_ROLE=none): ask an administrator for the viewer role"
)
ADMIN_APPS = (*READ_APPS, "metrics")
EDITOR_PERMISSIONS = frozenset(
    {
        "monitors.add_monitor",
        "monitors.change_monitor",
        "monitors.delete_monitor",
        "results.delete_result",
        "alerts.add_monitoralertpolicy",
        "alerts.change_monitoralertpolicy",
        "alerts.delete_monitoralertpolicy",
        "alerts.change_notification",
        "alerts.add_maintenancewindow",
        "alerts.change_maintenancewindow",
        "alerts.delete_maintenancewindow",
        "alerts.change_alertstate",
    }
)


def role_grants(role: str, permission: str) -> bool:
    """Whether ``role`` holds ``permission`` (``app_label.codename``)."""
    app_label, codename = permission.split(".", 1)
    if role == ADMIN:
        return app_label in ADMIN_APPS
    if app_label in READ_APPS and codename.startswith("view_"):
        return True
    return role == EDITOR and permission in EDITOR_PERMISSIONS


def may_read(user) -> bool:
    """Whether ``user`` may see monitors, results and the service's details."""
    if settings.NANOMON_PUBLIC_READ:
        return True
    if not (user and user.is_authenticated):
        return False
    return bool(settings.OIDC_DEFAULT_ROLE) or user.has_perm(READ_PERMISSION)


def grant_role_permissions(group_model, permission_model, roles: Iterable[str] = ROLES) -> None:
    """Create the role groups that are missing and add the permissions each role holds.

    Takes the models so that migrations can pass their historical ones. Idempotent.
    """
    permissions = [
        (permission, f"{permission.content_type.app_label}.{permission.codename}")
        for permission in permission_model.objects.filter(
            content_type__app_label__in=ADMIN_APPS
        ).select_related("content_type")
    ]
    for role in roles:
        group, _ = group_model.objects.get_or_create(name=role)
        group.permissions.add(*(row for row, name in permissions if role_grants(role, name)))


def role_group(role: str):
    """The group of ``role``, created with its permissions when it is missing."""
    from django.contrib.auth.models import Group, Permission

    group = Group.objects.filter(name=role).first()
    if group is None:
        with transaction.atomic():
            grant_role_permissions(Group, Permission, roles=[role])
        group = Group.objects.get(name=role)
    return group
