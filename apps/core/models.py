from zoneinfo import available_timezones

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models


def time_zone_validate(value: str) -> None:
    if value not in available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone, such as Europe/Paris.")


class Workspace(models.Model):
    """A tenant: every brief, target and member belongs to exactly one."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    # Where its people work: the default for showing and reading times.
    time_zone = models.CharField(max_length=64, default="UTC", validators=[time_zone_validate])
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class TimeStamped(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class AuditEvent(models.Model):
    """Who did what to which object, with the state before and after."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=150, blank=True, help_text="worker id or system")
    action = models.CharField(max_length=80)
    subject_type = models.CharField(max_length=40)
    subject_id = models.BigIntegerField()
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["subject_type", "subject_id", "created_at"])]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.subject_type}#{self.subject_id}"


class OutboxEvent(models.Model):
    """A domain event, written in the transaction that caused it.

    Relayed after commit to websocket groups and to the next pipeline step;
    `relayed_at` stays empty until that happened, so a sweeper can finish the
    relay of anything a crash left behind (at-least-once).
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    type = models.CharField(max_length=60, db_index=True)
    subject_type = models.CharField(max_length=40)
    subject_id = models.BigIntegerField()
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    relayed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["relayed_at", "created_at"])]
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.type} {self.subject_type}#{self.subject_id}"
