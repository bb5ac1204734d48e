"""Issuing, checking and revoking API keys."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from apps.accounts.roles import CAN_GOVERN
from apps.accounts.selectors import actor_require, membership_for
from apps.apikeys.models import ApiKey, Scope
from apps.core.errors import DomainError
from apps.core.models import Workspace
from apps.core.services import Actor, audit_record

KEY_PREFIX = "aigc_"
NOT_A_MEMBER = "The key's user must be a member of this workspace."
# last_used_at is written at most this often per key: one UPDATE per request
# would make every API call a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def apikey_create(*, workspace: Workspace, user: User, name: str,
                  scopes: Iterable[str], actor: Actor = None) -> tuple[ApiKey, str]:
    """A new key for `user` in `workspace`; the plaintext is returned once and never stored.

    Keys are minted by the workspace's admins (or an operator, `actor` None) for its members.
    """
    actor_require(actor, CAN_GOVERN, workspace.pk)
    if membership_for(user, workspace.pk) is None:
        raise DomainError(NOT_A_MEMBER)
    scopes = sorted(set(scopes))
    unknown = [s for s in scopes if s not in Scope.values]
    if unknown:
        raise DomainError(f"Unknown scopes: {', '.join(unknown)}.")
    if not scopes:
        raise DomainError("Give the key at least one scope.")
    prefix = secrets.token_hex(6)
    plaintext = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(workspace=workspace, user=user, name=name, prefix=prefix,
                                digest=_digest(plaintext), scopes=scopes)
    audit_record(workspace_id=workspace.pk, action="apikey.created", subject=key,
                 actor=actor, after={"name": name, "scopes": scopes, "prefix": prefix})
    return key, plaintext


def apikey_create_for_username(*, workspace: Workspace, username: str, name: str,
                               scopes: Iterable[str], actor: Actor = None
                               ) -> tuple[ApiKey, str]:
    """`apikey_create` for the member called `username`; an unknown name gets the same
    refusal as a non-member, so the answer tells nothing about other workspaces' users."""
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise DomainError(NOT_A_MEMBER)
    return apikey_create(workspace=workspace, user=user, name=name, scopes=scopes, actor=actor)


def apikey_authenticate(*, plaintext: str) -> ApiKey | None:
    """The active key `plaintext` stands for (recording its use), else None."""
    if not plaintext.startswith(KEY_PREFIX):
        return None
    prefix = plaintext[len(KEY_PREFIX):].split("_", 1)[0]
    key = (ApiKey.objects.select_related("user", "workspace")
           .filter(prefix=prefix, revoked_at__isnull=True).first())
    if key is None or not hmac.compare_digest(key.digest, _digest(plaintext)):
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


@transaction.atomic
def apikey_revoke(*, key: ApiKey, actor: Actor = None) -> ApiKey:
    """Revoke at once; revoking twice is a no-op. Owners revoke their own keys, the
    workspace's admins any key of it."""
    if actor is None or actor.pk != key.user_id:
        actor_require(actor, CAN_GOVERN, key.workspace_id)
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at", "updated_at"])
        audit_record(workspace_id=key.workspace_id, action="apikey.revoked", subject=key,
                     actor=actor)
    return key
