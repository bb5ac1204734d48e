from django.conf import settings
from django.db import models

from apps.core.models import Workspace, time_zone_validate


class Role(models.TextChoices):
    EDITOR = "editor", "Editor"
    REVIEWER = "reviewer", "Reviewer"
    ADMIN = "admin", "Admin"


class Membership(models.Model):
    """A user's role in one workspace; a user may belong to several."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "workspace"], name="one_membership_per_workspace")
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.role} @ {self.workspace}"


class Profile(models.Model):
    """A user's own settings, across their workspaces."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="profile")
    # Empty: the current workspace's zone. The row is first written with the browser's zone
    # at the first dashboard visit; after that only the user changes it.
    time_zone = models.CharField(max_length=64, blank=True, validators=[time_zone_validate])

    def __str__(self) -> str:
        return f"{self.user} · {self.time_zone or 'workspace time zone'}"
