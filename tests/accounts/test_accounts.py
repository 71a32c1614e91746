"""Who a sign-in is: users matched by issuer + subject, created with the default role, groups
mapped from a claim on every sign-in; and the three role groups."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.management import call_command

from accounts import providers, roles
from accounts.models import OidcIdentity
from accounts.services import SignInRefused, identity_sign_in, sync_groups

pytestmark = pytest.mark.django_db

ISSUER = "https://idp.example"


@pytest.fixture
def provider(settings):
    settings.OIDC_PROVIDER_KIND = "generic"
    settings.OIDC_RP_CLIENT_ID = "nanomon"
    settings.OIDC_RP_CLIENT_SECRET = "secret"
    settings.OIDC_OP_ISSUER = ISSUER
    return providers.current()


def sign_in(provider, sub="alice-sub", **claims):
    return identity_sign_in({"iss": ISSUER, "sub": sub, **claims}, provider)


def group_names(user) -> list[str]:
    return sorted(user.groups.values_list("name", flat=True))


# --- Matching ----------------------------------------------------------------------------------


def test_a_new_person_gets_a_user_with_the_default_role(provider):
    user = sign_in(provider, preferred_username="alice", email="a@example.com", given_name="Al")

    assert user.username == "alice"
    assert (user.email, user.first_name) == ("a@example.com", "Al")
    assert group_names(user) == ["viewer"]
    assert not user.has_usable_password()
    assert not user.is_staff
    assert OidcIdentity.objects.get(user=user).last_sign_in_at is not None


def test_the_same_issuer_and_subject_is_the_same_user(provider):
    first = sign_in(provider, preferred_username="alice")
    again = sign_in(provider, preferred_username="renamed", email="new@example.com")

    assert again.pk == first.pk
    assert again.username == "alice"  # the username stays; the profile follows the claims
    assert User.objects.get(pk=first.pk).email == "new@example.com"


def test_users_are_never_matched_by_email_or_username(provider):
    local = User.objects.create_user("alice", email="alice@example.com", password="pw-123456!")

    user = sign_in(provider, preferred_username="alice", email="alice@example.com")

    assert user.pk != local.pk
    assert user.username.startswith("alice-")
    assert not local.groups.exists()


def test_the_same_subject_at_another_issuer_is_someone_else(provider):
    first = sign_in(provider, preferred_username="alice")
    other = identity_sign_in({"iss": "https://other.example", "sub": "alice-sub"}, provider)

    assert other.pk != first.pk


def test_an_administrator_links_an_existing_account_by_adding_its_identity(provider):
    local = User.objects.create_user("carol")
    OidcIdentity.objects.create(user=local, issuer=ISSUER, subject="carol-sub")

    assert sign_in(provider, sub="carol-sub").pk == local.pk


def test_a_person_without_a_name_claim_is_named_after_the_subject(provider):
    assert sign_in(provider, sub="0f/3 x").username == "0f_3_x"


def test_without_account_creation_a_stranger_is_refused(provider, settings):
    settings.OIDC_CREATE_USER = False

    with pytest.raises(SignInRefused, match="no NanoMon account"):
        sign_in(provider)
    assert not User.objects.exists()


def test_a_deactivated_user_is_refused(provider):
    user = sign_in(provider)
    User.objects.filter(pk=user.pk).update(is_active=False)

    with pytest.raises(SignInRefused, match="deactivated"):
        sign_in(provider)


@pytest.mark.parametrize(("role", "groups"), [("editor", ["editor"]), ("", [])])
def test_the_default_role_is_configurable(provider, settings, role, groups):
    settings.OIDC_DEFAULT_ROLE = role

    assert group_names(sign_in(provider)) == groups


# --- Groups from a claim -----------------------------------------------------------------------


@pytest.fixture
def groups_claim(settings):
    settings.OIDC_GROUPS_CLAIM = "groups"
    settings.OIDC_GROUPS_MAP = {
        "nanomon-editors": "editor",
        "nanomon-admins": "admin",
        "ops": "ops",
    }


def test_the_claim_maps_to_groups_on_every_sign_in(provider, groups_claim):
    user = sign_in(provider, groups=["nanomon-editors", "unrelated"])
    assert group_names(user) == ["editor", "viewer"]
    assert user.has_perm("monitors.add_monitor")

    user = sign_in(provider, groups=["nanomon-admins", "ops"])
    assert group_names(user) == ["admin", "ops", "viewer"]
    assert User.objects.get(pk=user.pk).is_staff  # admins may open the Django admin

    user = sign_in(provider, groups=[])
    assert group_names(user) == ["viewer"]
    assert not User.objects.get(pk=user.pk).is_staff


def test_groups_given_by_hand_are_kept(provider, groups_claim):
    user = sign_in(provider, groups=["nanomon-editors"])
    user.groups.add(Group.objects.create(name="night-shift"))

    user = sign_in(provider, groups=[])

    assert group_names(user) == ["night-shift", "viewer"]


def test_claim_values_outside_the_map_never_become_groups(provider, groups_claim):
    user = sign_in(provider, groups=["admin", "superusers", "editor"])

    assert group_names(user) == ["viewer"]
    assert not Group.objects.filter(name="superusers").exists()


def test_without_a_map_the_role_names_map_to_themselves(provider, settings):
    settings.OIDC_GROUPS_CLAIM = "roles"
    settings.OIDC_GROUPS_MAP = {}

    user = sign_in(provider, roles=["editor", "owner"])

    assert group_names(user) == ["editor", "viewer"]


def test_a_dotted_claim_reaches_into_nested_claims(provider, settings):
    settings.OIDC_GROUPS_CLAIM = "realm_access.roles"
    settings.OIDC_GROUPS_MAP = {}

    user = sign_in(provider, realm_access={"roles": ["admin"]})

    assert group_names(user) == ["admin", "viewer"]


def test_a_superuser_keeps_staff_whatever_the_claim_says(provider, groups_claim):
    user = User.objects.create_superuser("root", password="x-123456!")
    sync_groups(user, {"groups": []})

    assert User.objects.get(pk=user.pk).is_staff


def test_without_a_groups_claim_setting_groups_are_left_alone(provider):
    user = sign_in(provider)
    user.groups.add(roles.role_group("admin"))

    assert group_names(sign_in(provider, groups=[])) == ["admin", "viewer"]


# --- The role groups ---------------------------------------------------------------------------


def permissions_of(role: str) -> set[str]:
    return {
        f"{app}.{codename}"
        for app, codename in Group.objects.get(name=role).permissions.values_list(
            "content_type__app_label", "codename"
        )
    }


def test_the_migration_creates_the_three_roles_with_their_permissions():
    viewer, editor, admin = (permissions_of(role) for role in roles.ROLES)

    assert {"monitors.view_monitor", "results.view_result", "alerts.view_channel"} <= viewer
    assert not any(name.split(".")[1].startswith(("add_", "change_", "delete_")) for name in viewer)
    assert editor == viewer | roles.EDITOR_PERMISSIONS
    assert {"alerts.change_channel", "alerts.delete_channel", "monitors.delete_monitor"} <= admin
    assert editor < admin
    assert not any(name.startswith("auth.") for name in admin)


def test_granting_the_roles_again_changes_nothing_and_keeps_admin_edits():
    viewer = Group.objects.get(name="viewer")
    extra = Permission.objects.get(codename="add_monitor")
    viewer.permissions.add(extra)
    before = {role: permissions_of(role) for role in roles.ROLES}

    roles.grant_role_permissions(Group, Permission)

    assert {role: permissions_of(role) for role in roles.ROLES} == before
    assert Group.objects.filter(name__in=roles.ROLES).count() == 3


def test_a_deleted_role_group_is_recreated_when_needed():
    Group.objects.filter(name="editor").delete()

    group = roles.role_group("editor")

    assert permissions_of("editor") == permissions_of("viewer") | roles.EDITOR_PERMISSIONS
    assert group.name == "editor"


@pytest.mark.django_db(transaction=True)
def test_the_roles_migration_is_reversible():
    call_command("migrate", "accounts", "0001", verbosity=0)
    assert not Group.objects.filter(name__in=roles.ROLES).exists()

    call_command("migrate", "accounts", verbosity=0)

    assert sorted(Group.objects.values_list("name", flat=True)) == ["admin", "editor", "viewer"]
