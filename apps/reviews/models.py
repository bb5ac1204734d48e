from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from apps.generation.models import Draft


class DraftRevision(models.Model):
    """A version of a draft's text; number 1 is the model's own text."""

    draft = models.ForeignKey(Draft, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    text = models.TextField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # A publication of it is scheduled, being sent or published: new texts are checked for
    # copying it. Kept by the workflow as its publications move (publishing sits above).
    went_out = models.BooleanField(default=False, db_index=True, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["draft", "number"], name="one_revision_number_per_draft")
        ]
        ordering = ["draft_id", "number"]

    def __str__(self) -> str:
        return f"Draft {self.draft_id} r{self.number}"


class Decision(models.TextChoices):
    APPROVE = "approve"
    REJECT = "reject"
    REQUEST_CHANGES = "request_changes"


class Review(models.Model):
    brief = models.ForeignKey("briefs.ContentBrief", on_delete=models.CASCADE, related_name="reviews")
    revision = models.ForeignKey(
        DraftRevision, null=True, blank=True, on_delete=models.CASCADE, related_name="reviews"
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    guest_name = models.CharField(max_length=150, blank=True,
                                  help_text="an outside approver deciding through a guest link")
    decision = models.CharField(max_length=20, choices=Decision.choices)
    comment = models.TextField(blank=True, max_length=10_000)
    # An approval stops counting towards the policy when the text changes after it.
    superseded = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.decision} on brief {self.brief_id}"


class ApprovalPolicy(models.Model):
    """How a content type's drafts are approved, and how fast reviews must happen."""

    content_type = models.OneToOneField("briefs.ContentType", on_delete=models.CASCADE,
                                        related_name="approval_policy")
    approvals_required = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(10)])
    distinct_reviewers = models.BooleanField(
        default=True, help_text="each approval must come from a different reviewer")
    round_robin = models.BooleanField(
        default=False, help_text="assign briefs reaching review to the workspace's reviewers in turn")
    review_sla_hours = models.PositiveIntegerField(
        null=True, blank=True, help_text="the assignee is reminded when a review takes longer")
    escalate_after_hours = models.PositiveIntegerField(
        null=True, blank=True, help_text="then the review is handed to the escalation contact")
    escalate_to = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+",
                                    help_text="empty: the next reviewer in turn")

    class Meta:
        verbose_name_plural = "approval policies"

    def __str__(self) -> str:
        return f"{self.content_type}: {self.approvals_required} approval(s)"


class ReviewAssignment(models.Model):
    """Who reviews a brief now; reassigned by hand, in turn, or on escalation."""

    brief = models.OneToOneField("briefs.ContentBrief", on_delete=models.CASCADE,
                                 related_name="assignment")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                 related_name="+")
    assigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    assigned_at = models.DateTimeField()
    reminded_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["reviewer", "assigned_at"])]

    def __str__(self) -> str:
        return f"brief {self.brief_id} → {self.reviewer}"


class ReviewComment(models.Model):
    """A comment on a brief (optionally on one draft), threaded by `parent`."""

    brief = models.ForeignKey("briefs.ContentBrief", on_delete=models.CASCADE,
                              related_name="comments")
    draft = models.ForeignKey(Draft, null=True, blank=True, on_delete=models.CASCADE,
                              related_name="comments")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE,
                               related_name="replies")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                               related_name="+")
    body = models.TextField(max_length=10_000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"comment {self.pk} on brief {self.brief_id}"


class EditLock(models.Model):
    """Who is editing a draft; expires unless renewed, so a closed tab frees it."""

    draft = models.OneToOneField(Draft, on_delete=models.CASCADE, related_name="edit_lock")
    holder = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                               related_name="+")
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"draft {self.draft_id} edited by {self.holder}"


class GuestLink(models.Model):
    """An outside approver's single-use access to one brief; the URL carries its signed id."""

    brief = models.ForeignKey("briefs.ContentBrief", on_delete=models.CASCADE,
                              related_name="guest_links")
    guest_name = models.CharField(max_length=150)
    guest_email = models.EmailField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"guest link for {self.guest_name} on brief {self.brief_id}"
