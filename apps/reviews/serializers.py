"""The API's shapes of reviews and revisions, and of a reviewer's decision on a brief."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.core.api_time import PUBLISH_AT_HELP, LocalTimeField, PublishTimeSerializer
from apps.core.serializers import IdField
from apps.reviews.models import DraftRevision, Review


class RevisionSerializer(serializers.ModelSerializer[DraftRevision]):
    author = serializers.CharField(source="author.get_username", default=None)

    class Meta:
        model = DraftRevision
        fields = ["id", "number", "text", "author", "created_at"]


class ReviewSerializer(serializers.ModelSerializer[Review]):
    reviewer = serializers.CharField(source="reviewer.get_username", default=None)
    draft_id = serializers.IntegerField(source="revision.draft_id", default=None)
    revision = serializers.IntegerField(source="revision.number", default=None)

    class Meta:
        model = Review
        fields = ["id", "decision", "comment", "reviewer", "draft_id", "revision", "created_at"]


class ReviewListSerializer(ReviewSerializer):
    class Meta(ReviewSerializer.Meta):
        fields = [*ReviewSerializer.Meta.fields, "brief_id"]


class ApproveSerializer(PublishTimeSerializer):
    draft_id = IdField()
    comment = serializers.CharField(max_length=10_000, required=False, allow_blank=True)
    target_ids = serializers.ListField(
        child=IdField(), max_length=50, required=False,
        help_text="default: the workspace's auto-publish targets",
    )
    # Read as publish/ and reschedule/ read it: no offset needs a `timezone`.
    publish_at = LocalTimeField(required=False, allow_null=True,
                                  help_text=f"{PUBLISH_AT_HELP}; default: as soon as approved")
    override_justification = serializers.CharField(
        max_length=2000, required=False, allow_blank=True,
        help_text="workspace admins only: approve a revision that breaks a hard rule (banned "
        "terms, personal data, a copy, another language), for this recorded reason",
    )


class RejectSerializer(serializers.Serializer[Any]):
    comment = serializers.CharField(max_length=10_000, required=False, allow_blank=True)


class RequestChangesSerializer(serializers.Serializer[Any]):
    feedback = serializers.CharField(max_length=10_000)
