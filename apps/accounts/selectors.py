from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AnonymousUser, User

from apps.accounts.models import Membership
from apps.core.errors import PermissionDenied
from apps.core.models import Workspace
from apps.core.services import Actor

NO_ROLE = "You do not have a role in this workspace that allows this."


def membership_for(
    user: User | AnonymousUser, workspace_id: int | None = None
) -> Membership | None:
    """The user's membership in `workspace_id`, or in their first workspace."""
    if not isinstance(user, User):
        return None
    memberships = Membership.objects.select_related("workspace").filter(user=user)
    if workspace_id is not None:
        memberships = memberships.filter(workspace_id=workspace_id)
    return memberships.order_by("id").first()


def membership_require(
    user: User | AnonymousUser, roles: Iterable[str], workspace_id: int | None = None
) -> Membership:
    """The user's membership (its workspace joined) if it holds one of `roles`, or
    PermissionDenied."""
    membership = membership_for(user, workspace_id)
    if membership is None or membership.role not in set(roles):
        raise PermissionDenied(NO_ROLE)
    return membership


def workspace_require(
    user: User | AnonymousUser, roles: Iterable[str], workspace_id: int | None = None
) -> Workspace:
    """The workspace where `user` holds one of `roles`, or PermissionDenied."""
    return membership_require(user, roles, workspace_id).workspace


def signed_in(actor: Actor) -> User:
    """The acting user as a User, if signed in (else PermissionDenied): for pages behind
    login_required, and for services through member_require."""
    if not isinstance(actor, User):
        raise PermissionDenied(NO_ROLE)
    return actor


def member_require(actor: Actor, roles: Iterable[str], workspace_id: int) -> User:
    """The acting user, if signed in with one of `roles` in the workspace (else
    PermissionDenied): services take it once and then use it as a user."""
    user = signed_in(actor)
    workspace_require(user, roles, workspace_id)
    return user


def roles_by_workspace(user: User | AnonymousUser) -> dict[int, str]:
    """Workspace id -> the user's role there."""
    if not user.is_authenticated:
        return {}
    return dict(Membership.objects.filter(user_id=user.pk).values_list("workspace_id", "role"))


def actor_require(actor: Actor, roles: Iterable[str], workspace_id: int) -> None:
    """For services: an operator (no actor: commands, the system) or a superuser passes;
    a user needs one of `roles` in the workspace."""
    if actor is None or getattr(actor, "is_superuser", False):
        return
    workspace_require(actor, roles, workspace_id)
