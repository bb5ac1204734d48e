"""A user's profile: the time zone the dashboard shows and reads times in.

The zone is the user's own, else the current workspace's (`Workspace.time_zone`). The
browser's zone is taken once, at the first dashboard visit; after that only the user
changes it, on the profile page.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from apps.accounts.models import Membership, Profile
from apps.core.errors import DomainError
from apps.core.models import time_zone_validate


@dataclass(frozen=True)
class UserTimeZone:
    name: str  # an IANA name
    own: bool  # the user's own choice (else the workspace's)
    asked: bool  # a profile exists: the browser's zone was taken or the user chose


def _checked(time_zone: str) -> str:
    if time_zone:
        try:
            time_zone_validate(time_zone)
        except ValidationError as exc:
            raise DomainError(exc.messages[0]) from None
    return time_zone


@transaction.atomic
def profile_time_zone_set(*, user: User, time_zone: str) -> Profile:
    """The user's own zone; empty follows the current workspace's. DomainError for a name
    that is not an IANA zone."""
    profile, _ = Profile.objects.update_or_create(user=user,
                                                  defaults={"time_zone": _checked(time_zone)})
    return profile


@transaction.atomic
def profile_time_zone_from_browser(*, user: User, time_zone: str) -> bool:
    """The browser's zone, kept only when the user has no profile yet (a choice made on the
    profile page is never overwritten); whether it was kept. Idempotent."""
    _, created = Profile.objects.get_or_create(user=user,
                                               defaults={"time_zone": _checked(time_zone)})
    return created


def user_time_zone(*, user: User, workspace_id: int | None) -> UserTimeZone:
    """The zone to show and read the user's times in: their own, else that of the workspace
    they work in (`workspace_id`, else their first), else UTC. Two queries at most."""
    own = Profile.objects.filter(user_id=user.pk).values_list("time_zone", flat=True).first()
    if own:
        return UserTimeZone(name=own, own=True, asked=True)
    memberships = Membership.objects.filter(user_id=user.pk).order_by(
        "id").values_list("workspace_id", "workspace__time_zone")
    zones = dict(memberships)
    name = zones.get(workspace_id) if workspace_id in zones else next(iter(zones.values()), "UTC")
    return UserTimeZone(name=name or "UTC", own=False, asked=own is not None)
