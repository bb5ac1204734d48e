import uuid

from django.db import models

from apps.core.models import TimeStamped, Workspace


class InboundEndpoint(TimeStamped):
    """Where an external system posts briefs: `POST /api/v1/hooks/<slug>/`, signed.

    `field_mapping` maps brief fields to dotted paths in the sender's JSON,
    e.g. {"title": "article.headline", "keywords": "tags"}; `defaults` fill
    the fields the sender does not send.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE,
                                  related_name="inbound_endpoints")
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=80, unique=True)
    content_type = models.ForeignKey("briefs.ContentType", on_delete=models.PROTECT,
                                     related_name="+")
    field_mapping = models.JSONField(default=dict, blank=True)
    defaults = models.JSONField(default=dict, blank=True)
    max_body_bytes = models.PositiveIntegerField(default=256 * 1024)
    enabled = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.name


class EndpointSecret(models.Model):
    """One of an endpoint's signing secrets; several are active while a sender rotates."""

    endpoint = models.ForeignKey(InboundEndpoint, on_delete=models.CASCADE, related_name="secrets")
    secret_encrypted = models.TextField(editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Secret {self.pk} of {self.endpoint_id}"


class InboundDelivery(models.Model):
    """A message received once: a replay of its id gets the stored answer."""

    endpoint = models.ForeignKey(InboundEndpoint, on_delete=models.CASCADE,
                                 related_name="deliveries")
    message_id = models.CharField(max_length=200)
    brief = models.ForeignKey("briefs.ContentBrief", null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["endpoint", "message_id"],
                                               name="one_inbound_delivery_per_id")]

    def __str__(self) -> str:
        return f"{self.message_id} → {self.response_status}"


class Subscription(TimeStamped):
    """An outbound webhook: matching events are POSTed to `url`, signed."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE,
                                  related_name="webhook_subscriptions")
    name = models.CharField(max_length=120)
    url = models.URLField(max_length=1000)
    event_types = models.JSONField(default=list, help_text='globs, e.g. ["brief.*", "job.failed"]')
    payload_version = models.PositiveSmallIntegerField(default=1)
    secret_encrypted = models.TextField(editable=False)
    enabled = models.BooleanField(default=True)
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_reason = models.CharField(max_length=500, blank=True, editable=False)
    # Circuit breaker (apps.core.breaker): failed tries in a row, across its deliveries;
    # enough of them pause every delivery until `paused_until`.
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    paused_until = models.DateTimeField(null=True, blank=True, editable=False)

    def __str__(self) -> str:
        return self.name


class DeliveryState(models.TextChoices):
    PENDING = "pending"
    SENDING = "sending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Delivery(models.Model):
    """One event for one subscription; every try is logged as a DeliveryAttempt."""

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE,
                                     related_name="deliveries")
    event_id = models.BigIntegerField()
    event_type = models.CharField(max_length=60)
    message_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    payload = models.JSONField()
    state = models.CharField(max_length=12, choices=DeliveryState.choices,
                             default=DeliveryState.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["subscription", "event_id"],
                                               name="one_delivery_per_event")]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"{self.event_type} → {self.subscription_id}"


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="log")
    number = models.PositiveSmallIntegerField()
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField()
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["delivery_id", "number"]

    def __str__(self) -> str:
        return f"try {self.number}: {self.response_status or self.error}"


class FeedSource(TimeStamped):
    """An RSS/Atom feed whose new entries become briefs (the news desk)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="feeds")
    name = models.CharField(max_length=120)
    url = models.URLField(max_length=1000)
    content_type = models.ForeignKey("briefs.ContentType", on_delete=models.PROTECT,
                                     related_name="+")
    defaults = models.JSONField(default=dict, blank=True)
    enabled = models.BooleanField(default=True)
    last_polled_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.CharField(max_length=500, blank=True, editable=False)

    def __str__(self) -> str:
        return self.name


class FeedEntry(models.Model):
    """An entry already turned into a brief: entries are deduplicated by their id."""

    feed = models.ForeignKey(FeedSource, on_delete=models.CASCADE, related_name="entries")
    entry_key = models.CharField(max_length=64, help_text="SHA-256 of the entry id")
    entry_id = models.TextField()
    brief = models.ForeignKey("briefs.ContentBrief", null=True, on_delete=models.SET_NULL,
                              related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["feed", "entry_key"],
                                               name="one_brief_per_feed_entry")]
        verbose_name_plural = "feed entries"

    def __str__(self) -> str:
        return self.entry_id[:80]


class RecurringBrief(TimeStamped):
    """A brief created on a cron schedule in an explicit IANA time zone (a weekly newsletter).

    `brief_fields` are the brief's fields; `{date}` in the title becomes the run's local date.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE,
                                  related_name="recurring_briefs")
    name = models.CharField(max_length=120)
    cron = models.CharField(max_length=120, help_text="five fields, e.g. '0 9 * * MON'")
    timezone = models.CharField(max_length=64, help_text="IANA name, e.g. Europe/Paris")
    content_type = models.ForeignKey("briefs.ContentType", on_delete=models.PROTECT,
                                     related_name="+")
    brief_fields = models.JSONField(default=dict)
    enabled = models.BooleanField(default=True)
    next_run_at = models.DateTimeField(db_index=True, editable=False)
    last_run_at = models.DateTimeField(null=True, blank=True, editable=False)

    def __str__(self) -> str:
        return self.name
