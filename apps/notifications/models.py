from django.conf import settings
from django.db import models

from apps.core.models import Workspace


class Kind(models.TextChoices):
    ASSIGNMENT = "assignment"
    MENTION = "mention"
    DECISION = "decision"
    FAILURE = "failure"
    REMINDER = "reminder"
    ESCALATION = "escalation"


class Notification(models.Model):
    """Something a user should know about, shown in the dashboard and sent by email."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="notifications")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    brief = models.ForeignKey("briefs.ContentBrief", null=True, blank=True,
                              on_delete=models.CASCADE, related_name="+")
    message = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    # The outbox event that caused it, when a task sent it: one row per event and user,
    # however often the task's message is delivered.
    event_id = models.BigIntegerField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at", "-created_at"])]
        constraints = [models.UniqueConstraint(
            fields=["event_id", "user"], condition=models.Q(event_id__isnull=False),
            name="one_notification_per_event_and_user")]

    def __str__(self) -> str:
        return f"{self.kind} for {self.user}: {self.message[:40]}"
