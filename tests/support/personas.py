"""The people the tests act as: admin, editor and viewer, with the permissions of their role.

The clients are made from the user fixtures of ``tests/conftest.py``: DRF token clients for the
API in ``tests/conftest.py`` itself, session clients for the pages in ``tests/web/conftest.py``.
"""

from __future__ import annotations

from django.contrib.auth.models import Permission, User

EDITOR_PERMISSIONS = [
    "monitors.add_monitor",
    "monitors.change_monitor",
    "monitors.delete_monitor",
    "monitors.view_monitor",
    "results.delete_result",
    "results.view_result",
]
VIEWER_PERMISSIONS = ["monitors.view_monitor", "results.view_result"]


def user_with(username: str, permissions: list[str], **extra) -> User:
    """A user holding exactly ``permissions`` (``app_label.codename``)."""
    user = User.objects.create_user(username, password="correct horse battery", **extra)
    for name in permissions:
        app_label, codename = name.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user
