import uuid

from django.db import models

from apps.core.models import TimeStamped, Workspace
from apps.core.state_machine import StateMachine
from apps.reviews.models import DraftRevision


class TargetKind(models.TextChoices):
    WEBHOOK = "webhook", "Signed webhook"
    FILE = "file", "Markdown files (static site)"


class PublishingTarget(TimeStamped):
    """Where approved content goes. `config` is public; `secret` is encrypted at rest."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="targets")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=TargetKind.choices)
    config = models.JSONField(default=dict, blank=True, help_text="url (webhook), folder (file)")
    secret_encrypted = models.TextField(blank=True, editable=False)
    enabled = models.BooleanField(default=True)
    auto_publish = models.BooleanField(default=True, help_text="publish on approval")

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class PublicationState(models.TextChoices):
    PENDING = "pending"
    SCHEDULED = "scheduled"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    FAILED = "failed"


P = PublicationState
PUBLICATION_MACHINE = StateMachine.of(
    "Publication",
    [
        (P.PENDING, P.SCHEDULED),
        (P.SCHEDULED, P.PUBLISHING),
        (P.PUBLISHING, P.PUBLISHED),
        (P.PUBLISHING, P.SCHEDULED),  # transient failure: retried
        (P.PUBLISHING, P.FAILED),
        (P.SCHEDULED, P.FAILED),
        (P.FAILED, P.SCHEDULED),  # manual retry
    ],
)


class Publication(TimeStamped):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    brief = models.ForeignKey(
        "briefs.ContentBrief", on_delete=models.CASCADE, related_name="publications"
    )
    revision = models.ForeignKey(
        DraftRevision, on_delete=models.PROTECT, related_name="publications"
    )
    target = models.ForeignKey(
        PublishingTarget, on_delete=models.PROTECT, related_name="publications"
    )
    state = models.CharField(
        max_length=16, choices=PublicationState.choices, default=P.PENDING, db_index=True
    )
    scheduled_at = models.DateTimeField(null=True, blank=True)
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    attempts = models.PositiveSmallIntegerField(default=0)
    external_id = models.CharField(max_length=500, blank=True)
    external_url = models.URLField(max_length=1000, blank=True)
    last_error = models.TextField(blank=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["revision", "target"], name="one_publication_per_revision_target"
            )
        ]

    def __str__(self) -> str:
        return f"Publication {self.pk} to {self.target_id}"
