"""The API's shapes of a publication and of a publishing target (its health; its secret
write-only)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework import serializers

from apps.core.breaker import breaker_open
from apps.publishing.models import Publication, PublishingTarget


class TargetRefSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField()


class PublicationSerializer(serializers.ModelSerializer[Publication]):
    target = TargetRefSerializer()

    class Meta:
        model = Publication
        fields = [
            "id", "brief_id", "revision_id", "target", "state", "scheduled_at", "attempts",
            "external_id", "external_url", "last_error", "published_at",
        ]


TARGET_HEALTH_FIELDS = ["has_secret", "paused", "paused_until", "pause_reason",
                        "credentials_rejected", "consecutive_failures", "last_check_at",
                        "last_check_ok", "last_check_message"]


class TargetSerializer(serializers.ModelSerializer[PublishingTarget]):
    """A target's public settings and health; its secret is write-only and never returned.
    On PATCH a secret sent replaces the stored one (replacing a rejected one resumes the
    target); the kind stays."""

    config = serializers.DictField(default=dict, help_text="url (webhook), folder (file)")
    secret = serializers.CharField(write_only=True, required=False, allow_blank=True,
                                   max_length=500, trim_whitespace=False)
    has_secret = serializers.SerializerMethodField(help_text="a secret is stored (never shown)")
    paused = serializers.SerializerMethodField(
        help_text="no post starts now: credentials rejected, or paused_until ahead")

    class Meta:
        model = PublishingTarget
        fields = ["id", "name", "kind", "config", "secret", "enabled", "auto_publish",
                  "min_interval_s", *TARGET_HEALTH_FIELDS, "created_at", "updated_at"]
        read_only_fields = [*TARGET_HEALTH_FIELDS, "created_at", "updated_at"]
        extra_kwargs = {
            "paused_until": {"help_text": "after failures in a row: no post before this time"},
            "pause_reason": {"help_text": "the target's own words for the pause"},
            "credentials_rejected": {"help_text": "paused until the secret is replaced"},
            "last_check_at": {"help_text": "the last connection check (test, or before a post)"},
            "last_check_ok": {"help_text": "whether it passed; null: never checked"},
            "last_check_message": {"help_text": "why it failed"},
        }

    def validate_kind(self, kind: str) -> str:
        if self.instance is not None and kind != self.instance.kind:
            raise serializers.ValidationError("A target's kind cannot change; create another.")
        return kind

    def get_has_secret(self, target: PublishingTarget) -> bool:
        return bool(target.secret_encrypted)

    def get_paused(self, target: PublishingTarget) -> bool:
        return target.credentials_rejected or breaker_open(target, timezone.now())
