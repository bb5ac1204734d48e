"""Workspaces, members and their roles: created, changed and removed here, audited."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.text import slugify

from apps.accounts.models import Membership, Role
from apps.accounts.roles import CAN_GOVERN
from apps.accounts.selectors import actor_require
from apps.core.errors import DomainError
from apps.core.models import Workspace
from apps.core.services import Actor, audit_record

logger = logging.getLogger(__name__)

LAST_ADMIN = "A workspace keeps at least one admin: make someone else admin first."


def _last_admin(membership: Membership) -> bool:
    return (membership.role == Role.ADMIN and not Membership.objects.filter(
        workspace_id=membership.workspace_id, role=Role.ADMIN).exclude(pk=membership.pk).exists())


@transaction.atomic
def workspace_create(*, slug: str, name: str = "", time_zone: str = "", actor: Actor = None
                     ) -> Workspace:
    if slugify(slug) != slug or not slug:
        raise DomainError(f"{slug!r} is not a slug: use lowercase letters, digits and hyphens.")
    if Workspace.objects.filter(slug=slug).exists():
        raise DomainError(f"A workspace with the slug {slug!r} exists already.")
    fields = {"time_zone": time_zone} if time_zone else {}
    workspace = Workspace(slug=slug, name=name or slug, **fields)
    workspace.full_clean()
    workspace.save()
    audit_record(workspace_id=workspace.pk, action="workspace.created", subject=workspace,
                 actor=actor, after={"slug": slug, "name": workspace.name})
    return workspace


@transaction.atomic
def membership_grant(*, user: User, workspace: Workspace, role: str,
                     actor: Actor = None) -> Membership:
    """Give `user` `role` in `workspace` (replacing an earlier role there).

    What the role allows is checked per object against this membership
    (apps.accounts.roles), never through global groups.
    """
    actor_require(actor, CAN_GOVERN, workspace.pk)
    try:
        role = Role(role)
    except ValueError:
        raise DomainError(f"{role!r} is not a role: use one of {', '.join(Role.values)}.") from None
    earlier = (Membership.objects.select_for_update()
               .filter(user=user, workspace=workspace).first())
    if earlier is not None and earlier.role != role and _last_admin(earlier):
        raise DomainError(LAST_ADMIN)
    membership, created = Membership.objects.update_or_create(
        user=user, workspace=workspace, defaults={"role": role})
    if created or earlier is None or earlier.role != role:
        audit_record(workspace_id=workspace.pk, action="member.role_set", subject=membership,
                     actor=actor, before={"role": earlier.role} if earlier else {},
                     after={"user": user.get_username(), "role": role})
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, actor: Actor = None) -> None:
    actor_require(actor, CAN_GOVERN, membership.workspace_id)
    locked = Membership.objects.select_for_update().get(pk=membership.pk)
    if _last_admin(locked):
        raise DomainError(LAST_ADMIN)
    audit_record(workspace_id=locked.workspace_id, action="member.removed", subject=locked,
                 actor=actor, before={"user": locked.user.get_username(), "role": locked.role})
    locked.delete()


@transaction.atomic
def member_add(*, workspace: Workspace, username: str, role: str, password: str = "",
               email: str = "", actor: Actor = None) -> tuple[User, Membership]:
    """Add `username` to `workspace` with `role`, creating the user when missing.

    A new user without a password cannot log in with one until it is set.
    """
    actor_require(actor, CAN_GOVERN, workspace.pk)
    users = get_user_model()
    user = users.objects.filter(username=username).first()
    if user is None:
        user = users(username=username, email=email)
        user.full_clean(exclude=["password"])
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        # Staff so the Django admin opens; what they see there is limited by their roles.
        user.is_staff = True
        user.save()
    elif password:
        user.set_password(password)
        user.save(update_fields=["password"])
    return user, membership_grant(user=user, workspace=workspace, role=role, actor=actor)


def password_set_link(*, user: User, site_url: str) -> str:
    """The absolute link where `user` sets a password: Django's password reset confirmation,
    with a token that lapses after PASSWORD_RESET_TIMEOUT or once a password is set."""
    path = reverse("password_reset_confirm", kwargs={
        "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
        "token": default_token_generator.make_token(user)})
    return site_url.rstrip("/") + path


@transaction.atomic
def member_invite(*, workspace: Workspace, username: str, role: str, email: str = "",
                  site_url: str, actor: Actor = None) -> tuple[User, Membership, bool]:
    """Add `username` with `role` as `member_add` does; when no account has that name, the
    new account (without a password) is sent an invitation to `email` with a link to set
    one, after commit, so a refused or rolled-back change sends nothing. Returns the user,
    the membership and whether an invitation went out.

    Raises DomainError, before it writes, for a new username without an email.
    """
    actor_require(actor, CAN_GOVERN, workspace.pk)
    invited = not get_user_model().objects.filter(username=username).exists()
    if invited and not email:
        raise DomainError(f"{username!r} has no account yet: give their email, where the "
                          f"invitation to set a password goes.")
    user, membership = member_add(workspace=workspace, username=username, role=role,
                                  email=email, actor=actor)
    if invited:
        inviter = actor.get_username() if isinstance(actor, User) else "An admin"
        body = (f"{inviter} invited you to {workspace.name} as {membership.get_role_display()}."
                f"\n\nYour username is {username}. Set your password here:\n"
                f"{password_set_link(user=user, site_url=site_url)}\n")
        mail = (f"[AIGC] You are invited to {workspace.name}", body, [email])
        transaction.on_commit(lambda: _invitation_send(*mail), robust=True)
    return user, membership, invited


def _invitation_send(subject: str, body: str, to: list[str]) -> None:
    # The membership stands without the mail: a mail server that is down must not undo it.
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, to, fail_silently=False)
    except OSError:
        logger.exception("invitation email to %s failed", to[0])


def user_create_member(
    *, workspace: Workspace, username: str, password: str, role: str, email: str = ""
) -> User:
    if get_user_model().objects.filter(username=username).exists():
        raise DomainError(f"The user {username!r} exists already.")
    return member_add(workspace=workspace, username=username, role=role, password=password,
                      email=email)[0]
