import uuid

from django.db import models

from apps.core.models import TimeStamped, Workspace
from apps.core.state_machine import StateMachine
from apps.reviews.models import DraftRevision


class TargetKind(models.TextChoices):
    WEBHOOK = "webhook", "Signed webhook"
    FILE = "file", "Markdown files (static site)"
    WORDPRESS = "wordpress", "WordPress (REST API, application password)"
    GHOST = "ghost", "Ghost (Admin API key)"
    MASTODON = "mastodon", "Mastodon (or a compatible server)"
    CHAT = "chat", "Slack or Discord incoming webhook"


class PublishingTarget(TimeStamped):
    """Where approved content goes. `config` is public; `secret` is encrypted at rest.

    The secret per kind: webhook `whsec_…`; WordPress `username:application password`;
    Ghost the Admin API key `id:secret`; Mastodon an access token; chat the
    incoming-webhook URL (Slack and Discord treat the URL itself as the credential).
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="targets")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=TargetKind.choices)
    config = models.JSONField(default=dict, blank=True, help_text="url (webhook), folder (file)")
    secret_encrypted = models.TextField(blank=True, editable=False)
    enabled = models.BooleanField(default=True)
    auto_publish = models.BooleanField(default=True, help_text="publish on approval")
    min_interval_s = models.PositiveIntegerField(
        default=0, help_text="rate limit: at least this many seconds between two posts (0: none)"
    )
    # The next moment a post may start (rate limit), kept on the row so bursts
    # are spread across workers instead of refused by the target.
    next_slot_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Circuit breaker: consecutive transient failures; at the threshold the
    # target pauses until `paused_until`.
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    paused_until = models.DateTimeField(null=True, blank=True, editable=False)
    # Revoked or expired credentials: paused until the secret is replaced.
    credentials_rejected = models.BooleanField(default=False, editable=False)
    pause_reason = models.TextField(blank=True, editable=False)
    credentials_checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The last connection check (test connection, or the one before each post): when, whether
    # it passed, and the target's words when it did not.
    last_check_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_check_ok = models.BooleanField(null=True, editable=False)
    last_check_message = models.TextField(blank=True, editable=False)

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class PublicationState(models.TextChoices):
    PENDING = "pending"
    SCHEDULED = "scheduled"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    FAILED = "failed"
    CANCELLED = "cancelled"
    WITHDRAWN = "withdrawn"  # taken down from the target after publishing


P = PublicationState
# A revision counts as out (duplicate checks compare new texts with it) while one of its
# publications is in one of these.
GOING_OUT = (P.SCHEDULED, P.PUBLISHING, P.PUBLISHED)
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
        (P.PENDING, P.CANCELLED),
        (P.SCHEDULED, P.CANCELLED),
        (P.FAILED, P.CANCELLED),
        (P.CANCELLED, P.SCHEDULED),  # re-opened: the brief is published to that target after all
        (P.PUBLISHED, P.WITHDRAWN),
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
    # Pulled from the target by beat (favourites, boosts, replies, comments).
    engagement = models.JSONField(default=dict, blank=True)
    engagement_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["revision", "target"], name="one_publication_per_revision_target"
            )
        ]

    def __str__(self) -> str:
        return f"Publication {self.pk} to {self.target_id}"
