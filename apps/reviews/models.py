from django.conf import settings
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
    decision = models.CharField(max_length=20, choices=Decision.choices)
    comment = models.TextField(blank=True, max_length=10_000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.decision} on brief {self.brief_id}"
