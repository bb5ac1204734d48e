"""The API's shapes of a brief with its whole pipeline (jobs, drafts, reviews, publications)
and of its lineage."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.briefs.models import PromptTemplateVersion
from apps.briefs.serializers import BriefListSerializer, BriefRefSerializer
from apps.evaluation.models import GateDecision
from apps.evaluation.serializers import DraftSerializer
from apps.generation.models import ModelProfile
from apps.generation.serializers import JobSerializer
from apps.publishing.models import Publication
from apps.publishing.serializers import PublicationSerializer, TargetRefSerializer
from apps.reviews.models import DraftRevision
from apps.reviews.serializers import ReviewSerializer


class BriefDetailSerializer(BriefListSerializer):
    """A brief with its jobs, drafts and their scores, reviews and publications."""

    # Expects a brief from `brief_detail` (its relations prefetched).

    jobs = JobSerializer(many=True)
    drafts = DraftSerializer(many=True)
    reviews = ReviewSerializer(many=True)
    publications = PublicationSerializer(many=True)

    class Meta(BriefListSerializer.Meta):
        fields = [
            *BriefListSerializer.Meta.fields, "topic", "audience", "tone", "keywords",
            "source_material", "reference_texts", "style_guide_id", "feedback", "jobs", "drafts",
            "reviews", "publications",
        ]


class ScoresSerializer(serializers.Serializer[Any]):
    """A draft's or a reviewer's edit's scores."""

    # Evaluation and RevisionEvaluation alike.

    score = serializers.FloatField()
    relevance = serializers.FloatField()
    length_fit = serializers.FloatField()
    passed = serializers.BooleanField(allow_null=True, help_text="no hard rule broken; null: no "
                                      "gate applied")
    findings = serializers.JSONField(help_text="broken rules: metric, severity, value, reason")
    metrics = serializers.JSONField()
    embedding_model = serializers.CharField()


class EditLineageSerializer(serializers.ModelSerializer[DraftRevision]):
    author = serializers.CharField(source="author.get_username", default=None)
    scores = ScoresSerializer(source="evaluation", default=None,
                              help_text="null until the edit is rescored")

    class Meta:
        model = DraftRevision
        fields = ["id", "number", "author", "created_at", "text", "scores"]


class DraftLineageSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="draft.id")
    variant = serializers.IntegerField(source="draft.variant")
    model_name = serializers.CharField(source="draft.model_name")
    model_revision = serializers.CharField(source="draft.model_revision")
    parameters = serializers.JSONField(source="draft.parameters")
    seed = serializers.IntegerField(source="draft.seed")
    prompt_tokens = serializers.IntegerField(source="draft.prompt_tokens")
    completion_tokens = serializers.IntegerField(source="draft.completion_tokens")
    created_at = serializers.DateTimeField(source="draft.created_at")
    scores = ScoresSerializer(allow_null=True, help_text="null until scored")
    rank = serializers.IntegerField(source="scores.rank", default=None, help_text="1: best")
    edits = EditLineageSerializer(many=True, help_text="the reviewers' revisions, oldest first")


class PromptTemplateSerializer(serializers.ModelSerializer[PromptTemplateVersion]):
    class Meta:
        model = PromptTemplateVersion
        fields = ["id", "version", "template"]


class ModelProfileRefSerializer(serializers.ModelSerializer[ModelProfile]):
    class Meta:
        model = ModelProfile
        fields = ["id", "name", "backend", "model"]


class GateLineageSerializer(serializers.ModelSerializer[GateDecision]):
    class Meta:
        model = GateDecision
        fields = ["decision", "passed", "reasons", "risks", "best_draft_id", "required_group",
                  "audit_sampled", "regeneration", "created_at"]


class JobLineageSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="job.id")
    state = serializers.CharField(source="job.state")
    created_at = serializers.DateTimeField(source="job.created_at")
    prompt_template = PromptTemplateSerializer(source="job.prompt_template_version",
                                               allow_null=True)
    prompt = serializers.CharField(source="job.prompt", help_text="the rendered prompt")
    model_profile = ModelProfileRefSerializer(source="job.model_profile", allow_null=True)
    drafts = DraftLineageSerializer(many=True)
    gate = GateLineageSerializer(allow_null=True, help_text="null until the gate decided")


class ReviewLineageSerializer(ReviewSerializer):
    class Meta(ReviewSerializer.Meta):
        fields = [*ReviewSerializer.Meta.fields, "guest_name", "superseded"]


class PublicationLineageSerializer(serializers.ModelSerializer[Publication]):
    target = TargetRefSerializer()
    revision = serializers.IntegerField(source="revision.number")

    class Meta:
        model = Publication
        fields = ["id", "target", "state", "revision", "scheduled_at", "published_at",
                  "external_id", "external_url", "engagement", "engagement_at"]


class BriefLineageSerializer(serializers.Serializer[Any]):
    """How the brief's text came to be: every round oldest first, then the decisions and
    where the text went."""

    # Expects a `brief_lineage`.

    brief = BriefRefSerializer()
    jobs = JobLineageSerializer(many=True)
    reviews = ReviewLineageSerializer(many=True)
    publications = PublicationLineageSerializer(many=True)
