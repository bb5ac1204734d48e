"""API shapes of inbound endpoints, subscriptions, deliveries, feeds, recurring briefs and the
report of a bulk brief import.

Secrets are never returned, except once, in the answer that created or rotated them.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.briefs.models import ContentType
from apps.integrations.models import (
    Delivery,
    DeliveryAttempt,
    FeedSource,
    InboundEndpoint,
    RecurringBrief,
    Subscription,
)


class WorkspaceContentTypeMixin(serializers.Serializer[Any]):
    def validate_content_type(self, value: ContentType) -> ContentType:
        if value.workspace_id != self.context["workspace"].pk:
            raise serializers.ValidationError("Unknown content type in this workspace.")
        return value


class EndpointSerializer(WorkspaceContentTypeMixin,
                         serializers.ModelSerializer[InboundEndpoint]):
    field_mapping = serializers.DictField(child=serializers.CharField(max_length=200),
                                          default=dict, help_text="brief field → dotted path")
    defaults = serializers.DictField(default=dict, help_text="brief fields the sender omits")
    url = serializers.SerializerMethodField(help_text="where the sender posts")

    class Meta:
        model = InboundEndpoint
        fields = ["id", "name", "slug", "url", "content_type", "field_mapping", "defaults",
                  "max_body_bytes", "enabled", "created_at", "updated_at"]
        read_only_fields = ["enabled", "created_at", "updated_at"]
        extra_kwargs = {"max_body_bytes": {"min_value": 1, "max_value": 1_000_000}}

    def get_url(self, endpoint: InboundEndpoint) -> str:
        return f"/api/v1/hooks/{endpoint.slug}/"


class EndpointUpdateSerializer(EndpointSerializer):
    """PATCH: settings, `enabled`, and a replacement secret (write-only). The slug stays: it
    is the URL the senders post to."""

    secret = serializers.CharField(
        write_only=True, required=False, max_length=200, trim_whitespace=False,
        help_text="whsec_…: replaces every current secret at once (a leaked one stops "
                  "working now); to switch senders over gradually, rotate instead")

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]
        read_only_fields = ["slug", "created_at", "updated_at"]


class SecretSerializer(serializers.Serializer[Any]):
    secret = serializers.CharField(help_text="whsec_…: shown this once, store it now")


class EndpointCreatedSerializer(EndpointSerializer):
    secret = serializers.CharField(help_text="whsec_…: shown this once, store it now")

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]


class SubscriptionSerializer(serializers.ModelSerializer[Subscription]):
    event_types = serializers.ListField(child=serializers.CharField(max_length=60), min_length=1,
                                        max_length=50)

    class Meta:
        model = Subscription
        fields = ["id", "name", "url", "event_types", "payload_version", "enabled",
                  "failing_since", "consecutive_failures", "paused_until", "disabled_reason",
                  "created_at", "updated_at"]
        read_only_fields = ["payload_version", "enabled", "failing_since", "consecutive_failures",
                            "paused_until", "disabled_reason", "created_at", "updated_at"]
        extra_kwargs = {
            "consecutive_failures": {"help_text": "failed tries in a row, across its deliveries"},
            "paused_until": {"help_text": "its circuit breaker is open: no delivery is tried "
                                          "before this time, then one probes"},
        }


class SubscriptionCreatedSerializer(SubscriptionSerializer):
    secret = serializers.CharField(help_text="whsec_…: shown this once, store it now")

    class Meta(SubscriptionSerializer.Meta):
        fields = [*SubscriptionSerializer.Meta.fields, "secret"]


class DeliveryAttemptSerializer(serializers.ModelSerializer[DeliveryAttempt]):
    class Meta:
        model = DeliveryAttempt
        fields = ["number", "response_status", "latency_ms", "error", "created_at"]


class DeliverySerializer(serializers.ModelSerializer[Delivery]):
    log = DeliveryAttemptSerializer(many=True)

    class Meta:
        model = Delivery
        fields = ["id", "subscription_id", "event_id", "event_type", "message_id", "state",
                  "attempts", "next_attempt_at", "response_status", "latency_ms", "last_error",
                  "created_at", "delivered_at", "payload", "log"]


class FeedSerializer(WorkspaceContentTypeMixin, serializers.ModelSerializer[FeedSource]):
    defaults = serializers.DictField(default=dict, help_text="brief fields for every entry")

    class Meta:
        model = FeedSource
        fields = ["id", "name", "url", "content_type", "defaults", "enabled", "last_polled_at",
                  "last_error", "created_at"]
        read_only_fields = ["last_polled_at", "last_error", "created_at"]


class RecurringBriefSerializer(WorkspaceContentTypeMixin,
                               serializers.ModelSerializer[RecurringBrief]):
    brief_fields = serializers.DictField(help_text="the brief's fields; {date} in the title "
                                         "becomes the run's local date")

    class Meta:
        model = RecurringBrief
        fields = ["id", "name", "cron", "timezone", "content_type", "brief_fields", "enabled",
                  "next_run_at", "last_run_at", "created_at"]
        read_only_fields = ["next_run_at", "last_run_at", "created_at"]


class ImportRowSerializer(serializers.Serializer[Any]):
    row = serializers.IntegerField(help_text="1-based, as in the file (the CSV header is row 0)")
    status = serializers.ChoiceField(choices=["created", "refused"])
    brief_id = serializers.IntegerField(allow_null=True)
    # The response names it "errors"; DRF moves declared fields off the class, so it does
    # not shadow Serializer.errors at run time, which the stub cannot know.
    errors = serializers.DictField(help_text="per field, when refused")  # type: ignore[assignment]


class ImportReportSerializer(serializers.Serializer[Any]):
    created = serializers.IntegerField()
    refused = serializers.IntegerField()
    rows = ImportRowSerializer(many=True)
