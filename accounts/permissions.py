"""Who may do what through the API (docs/api.md, Permissions).

- Reads (GET, HEAD, OPTIONS) need a signed-in user, or nobody at all with
  ``NANOMON_PUBLIC_READ=true`` (NanoMon's open reads); with ``OIDC_DEFAULT_ROLE=none`` a
  signed-in user needs a role too (``accounts.roles.may_read``), else 403.
- Writes need a signed-in user holding one of the Django model permissions the view names for
  the action in ``action_permissions`` (e.g. ``monitors.add_monitor`` to create).
- Secret properties are shown in full only to users who may change monitors.
"""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from accounts.roles import NO_ROLE_DETAIL, may_read

CHANGE_MONITOR = "monitors.change_monitor"


def may_see_secrets(user) -> bool:
    """Whether ``user`` sees secret properties (e.g. an Authorization header) unmasked."""
    return bool(user and user.is_authenticated and user.has_perm(CHANGE_MONITOR))


class ReadOrModelPermission(BasePermission):
    """Reads for signed-in users (or everyone when public); writes by model permission.

    The view maps each write action to the permissions that allow it (any one suffices):
    ``action_permissions = {"create": ("monitors.add_monitor",), ...}``; an action it does not
    name is refused. A method the view does not route has no action: it is let through so the
    view answers 405.
    """

    message = "you do not have permission to do this"

    def has_permission(self, request, view) -> bool:
        user = request.user
        if request.method in SAFE_METHODS:
            if may_read(user):
                return True
            if user and user.is_authenticated:
                self.message = NO_ROLE_DETAIL  # a 403; anonymous callers get DRF's 401
            return False
        if not (user and user.is_authenticated):
            return False
        action = getattr(view, "action", None)
        if action is None:
            return True
        needed = getattr(view, "action_permissions", {}).get(action, ())
        return any(user.has_perm(permission) for permission in needed)
