from django.conf import settings
from django.db import models

from apps.core.models import TimeStamped, Workspace


class Scope(models.TextChoices):
    """What an API key may do, on top of what its owner's role allows."""

    BRIEFS_READ = "briefs:read", "Read briefs, jobs, drafts and publications"
    BRIEFS_WRITE = "briefs:write", "Create, submit, cancel and regenerate briefs"
    REVIEWS_WRITE = "reviews:write", "Approve, reject and request changes"
    PUBLICATIONS_WRITE = "publications:write", "Retry publications"
    CATALOG_WRITE = "catalog:write", "Edit content types, style guides and model profiles"
    EVENTS_READ = "events:read", "Read webhook subscriptions and deliveries"
    INTEGRATIONS_WRITE = "integrations:write", "Manage inbound endpoints and subscriptions"
    MEMBERS_WRITE = "members:write", "Manage the workspace's members and API keys"


class ApiKey(TimeStamped):
    """A credential for integrations, acting as its owner within one workspace.

    Only a SHA-256 digest of the key is stored: the key carries 256 random bits,
    so a fast hash is as good as a slow one against guessing and costs no CPU
    per request. `prefix` finds the row; the digest decides.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="api_keys")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="api_keys")
    name = models.CharField(max_length=120)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    digest = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(default=list)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
