from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group, Permission
from django.db import transaction

from apps.accounts.models import Membership, Role
from apps.accounts.roles import GROUP_NAMES, ROLE_PERMISSIONS
from apps.core.models import Workspace


def roles_sync_groups() -> None:
    """Create the role groups with their permissions (idempotent; run by a migration)."""
    for role, group_name in GROUP_NAMES.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        perms = []
        for (app_label, model), actions in ROLE_PERMISSIONS[role].items():
            codenames = [f"{action}_{model}" for action in actions]
            perms += list(
                Permission.objects.filter(
                    content_type__app_label=app_label, codename__in=codenames
                )
            )
        group.permissions.set(perms)


@transaction.atomic
def membership_grant(*, user: AbstractBaseUser, workspace: Workspace, role: str) -> Membership:
    """Give `user` `role` in `workspace` (replacing an earlier role there).

    The user's groups are the union of their roles across workspaces; what a
    permission allows is still checked against the workspace's membership.
    """
    role = Role(role)
    membership, _ = Membership.objects.update_or_create(
        user=user, workspace=workspace, defaults={"role": role}
    )
    held = set(Membership.objects.filter(user=user).values_list("role", flat=True))
    groups = {g.name: g for g in Group.objects.filter(name__in=GROUP_NAMES.values())}
    user.groups.remove(*[groups[GROUP_NAMES[r]] for r in Role if r not in held])  # type: ignore[attr-defined]
    user.groups.add(*[groups[GROUP_NAMES[Role(r)]] for r in held])  # type: ignore[attr-defined]
    return membership


@transaction.atomic
def user_create_member(
    *, workspace: Workspace, username: str, password: str, role: str, email: str = ""
) -> AbstractBaseUser:
    user = get_user_model().objects.create_user(username=username, password=password, email=email)
    # Staff so the Django admin opens; what they see there is limited by the group.
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    membership_grant(user=user, workspace=workspace, role=role)
    return user
