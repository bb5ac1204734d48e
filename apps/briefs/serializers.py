"""The API's shapes of a brief and of its pipeline: jobs, drafts, reviews, publications.

Input validation stops at field values; whether a brief may be created or moved
is the services' call. Links are paths (`/api/v1/...`, `/ws/...`), valid on any host.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework import serializers

from apps.accounts.api_auth import ID_MAX
from apps.briefs.models import BriefState, ContentBrief, ContentType, StyleGuide
from apps.briefs.selectors import content_type_find, style_guide_find
from apps.evaluation.models import Evaluation
from apps.generation.models import Draft, GenerationJob, ModelProfile
from apps.publishing.models import Publication, PublishingTarget
from apps.reviews.models import DraftRevision, Review


class IdField(serializers.IntegerField):
    """A database id: positive and 64-bit."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=1, max_value=ID_MAX, **kwargs)


class BriefCreateSerializer(serializers.Serializer):
    """The fields of `brief_create`; needs `workspace` in its context."""

    title = serializers.CharField(max_length=200)
    content_type = serializers.CharField(max_length=80, help_text="id or slug")
    topic = serializers.CharField(max_length=2000)
    audience = serializers.CharField(max_length=200, required=False, allow_blank=True)
    tone = serializers.CharField(max_length=200, required=False, allow_blank=True)
    keywords = serializers.ListField(
        child=serializers.CharField(max_length=100), max_length=50, required=False
    )
    target_length = serializers.IntegerField(min_value=10, max_value=5000, required=False)
    variants = serializers.IntegerField(min_value=1, max_value=8, required=False)
    language = serializers.RegexField(
        r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$", max_length=16, required=False,
        error_messages={"invalid": "A language tag such as 'en' or 'pt-BR'."},
    )
    source_material = serializers.CharField(
        max_length=50_000, required=False, allow_blank=True, trim_whitespace=False
    )
    reference_texts = serializers.ListField(
        child=serializers.CharField(max_length=50_000, trim_whitespace=False),
        max_length=20, required=False,
    )
    due_at = serializers.DateTimeField(required=False, allow_null=True)
    priority = serializers.IntegerField(min_value=-100, max_value=100, required=False)
    external_id = serializers.CharField(max_length=200, required=False, allow_blank=True)
    style_guide = IdField(required=False, allow_null=True)

    def validate_content_type(self, value: str) -> ContentType:
        found = content_type_find(workspace=self.context["workspace"], ref=value)
        if found is None:
            raise serializers.ValidationError(
                f"Unknown content type '{value}' in this workspace."
            )
        return found

    def validate_style_guide(self, value: int | None) -> StyleGuide | None:
        if value is None:
            return None
        found = style_guide_find(workspace=self.context["workspace"], style_guide_id=value)
        if found is None:
            raise serializers.ValidationError(f"Unknown style guide {value} in this workspace.")
        return found


class BriefFilterSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=BriefState.choices, required=False)


class PublicationFilterSerializer(serializers.Serializer):
    brief = IdField(required=False)


class ContentTypeRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = ContentType
        fields = ["id", "slug", "name"]


class JobSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    events = serializers.SerializerMethodField(help_text="websocket path of the job's events")

    class Meta:
        model = GenerationJob
        fields = [
            "id", "url", "events", "brief_id", "state", "variants", "attempts", "worker_id",
            "error", "prompt_tokens", "completion_tokens", "created_at", "started_at",
            "heartbeat_at", "generated_at", "finished_at",
        ]

    def get_url(self, job: GenerationJob) -> str:
        return reverse("api:job-detail", kwargs={"job_id": job.pk})

    def get_events(self, job: GenerationJob) -> str:
        return f"/ws/jobs/{job.pk}/"


class DraftScoreSerializer(serializers.ModelSerializer):
    score = serializers.SerializerMethodField()

    class Meta:
        model = Draft
        fields = ["id", "variant", "score"]

    def get_score(self, draft: Draft) -> float | None:
        evaluation = getattr(draft, "evaluation", None)  # absent until evaluated
        return evaluation.score if evaluation else None


class BriefRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = ContentBrief
        fields = ["id", "title", "state"]


class JobDetailSerializer(JobSerializer):
    brief = BriefRefSerializer()
    drafts = DraftScoreSerializer(many=True)

    class Meta(JobSerializer.Meta):
        fields = [*JobSerializer.Meta.fields, "brief", "drafts"]


class RevisionSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.get_username", default=None)

    class Meta:
        model = DraftRevision
        fields = ["id", "number", "text", "author", "created_at"]


class DraftSerializer(serializers.ModelSerializer):
    evaluation = serializers.SerializerMethodField()
    latest_revision = serializers.SerializerMethodField()

    class Meta:
        model = Draft
        fields = [
            "id", "job_id", "variant", "text", "model_name", "model_revision", "seed",
            "parameters", "prompt_tokens", "completion_tokens", "created_at", "evaluation",
            "latest_revision",
        ]

    def get_evaluation(self, draft: Draft) -> dict[str, Any] | None:
        evaluation = getattr(draft, "evaluation", None)  # absent until evaluated
        if evaluation is None:
            return None
        return {
            "score": evaluation.score,
            "relevance": evaluation.relevance,
            "length_fit": evaluation.length_fit,
            "metrics": evaluation.metrics,
            "embedding_model": evaluation.embedding_model,
        }

    def get_latest_revision(self, draft: Draft) -> dict[str, Any] | None:
        # Prefetched newest first by brief_detail.
        revisions = draft.revisions_newest_first  # type: ignore[attr-defined]
        return RevisionSerializer(revisions[0]).data if revisions else None


class ReviewSerializer(serializers.ModelSerializer):
    reviewer = serializers.CharField(source="reviewer.get_username", default=None)
    draft_id = serializers.IntegerField(source="revision.draft_id", default=None)
    revision = serializers.IntegerField(source="revision.number", default=None)

    class Meta:
        model = Review
        fields = ["id", "decision", "comment", "reviewer", "draft_id", "revision", "created_at"]


class TargetRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField()


class PublicationSerializer(serializers.ModelSerializer):
    target = TargetRefSerializer()

    class Meta:
        model = Publication
        fields = [
            "id", "brief_id", "revision_id", "target", "state", "scheduled_at", "attempts",
            "external_id", "external_url", "last_error", "published_at",
        ]


class BriefListSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    content_type = ContentTypeRefSerializer()

    class Meta:
        model = ContentBrief
        fields = [
            "id", "url", "title", "state", "content_type", "origin", "external_id", "priority",
            "variants", "target_length", "language", "due_at", "created_at", "updated_at",
        ]

    def get_url(self, brief: ContentBrief) -> str:
        return reverse("api:brief-detail", kwargs={"brief_id": brief.pk})


class BriefDetailSerializer(BriefListSerializer):
    """Expects a brief from `brief_detail` (its relations prefetched)."""

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


class ContentTypeSerializer(serializers.ModelSerializer):
    class Meta:
        model = ContentType
        fields = ["id", "name", "slug", "prompt_template", "default_length", "default_variants",
                  "model_profile_id", "created_at", "updated_at"]


class StyleGuideSerializer(serializers.ModelSerializer):
    class Meta:
        model = StyleGuide
        fields = ["id", "name", "tone", "banned_terms", "required_terms", "example_texts",
                  "created_at", "updated_at"]


class EvaluationSerializer(serializers.ModelSerializer):
    brief_id = serializers.IntegerField(source="draft.brief_id")
    job_id = serializers.IntegerField(source="draft.job_id")
    variant = serializers.IntegerField(source="draft.variant")

    class Meta:
        model = Evaluation
        fields = ["id", "draft_id", "brief_id", "job_id", "variant", "score", "relevance",
                  "length_fit", "metrics", "embedding_model", "created_at"]


class ModelProfileSerializer(serializers.ModelSerializer):
    class Meta:
        model = ModelProfile
        fields = ["id", "name", "backend", "model", "parameters", "queue", "device", "created_at",
                  "updated_at"]


class ReviewListSerializer(ReviewSerializer):
    class Meta(ReviewSerializer.Meta):
        fields = [*ReviewSerializer.Meta.fields, "brief_id"]


class TargetSerializer(serializers.ModelSerializer):
    """A target's public settings; its secret is write-only and never returned."""

    config = serializers.DictField(default=dict, help_text="url (webhook), folder (file)")
    secret = serializers.CharField(write_only=True, required=False, allow_blank=True,
                                   max_length=500, trim_whitespace=False)

    class Meta:
        model = PublishingTarget
        fields = ["id", "name", "kind", "config", "secret", "enabled", "auto_publish",
                  "created_at", "updated_at"]
        read_only_fields = ["enabled", "created_at", "updated_at"]


class ImportRowSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="1-based, as in the file (the CSV header is row 0)")
    status = serializers.ChoiceField(choices=["created", "refused"])
    brief_id = serializers.IntegerField(allow_null=True)
    errors = serializers.DictField(help_text="per field, when refused")


class ImportReportSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    refused = serializers.IntegerField()
    rows = ImportRowSerializer(many=True)
