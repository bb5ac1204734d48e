"""The API's shapes of a brief and of its pipeline: jobs, drafts, reviews, publications.

Input validation stops at field values; whether a brief may be created or moved
is the services' call. Links are paths (`/api/v1/...`, `/ws/...`), valid on any host.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.briefs.models import ContentBrief, ContentType, StyleGuide
from apps.briefs.prompting import PROMPT_FIELDS, template_validate
from apps.briefs.selectors import content_type_find, style_guide_find
from apps.core.api_time import LocalTimeField, LocalTimesSerializer
from apps.core.errors import DomainError
from apps.core.serializers import IdField, WorkspaceScopedSerializer
from apps.evaluation.models import Evaluation
from apps.generation.models import Backend, Draft, GenerationJob, ModelProfile
from apps.publishing.serializers import PublicationSerializer
from apps.reviews.serializers import ReviewSerializer, RevisionSerializer
from workers.evaluation.language import UNITS, length_unit


class BriefCreateSerializer(LocalTimesSerializer):
    """The fields of `brief_create`; needs `workspace` in its context. A `due_at` without
    an offset needs a `timezone`, as every time the API reads."""

    time_fields = ("due_at",)

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
    due_at = LocalTimeField(required=False, allow_null=True,
                            help_text="with an offset, or without one and a `timezone`")
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
        revisions = draft.revisions_newest_first  # type: ignore[attr-defined]  # Prefetch(to_attr=)
        return RevisionSerializer(revisions[0]).data if revisions else None


class BriefListSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    content_type = ContentTypeRefSerializer()
    length_unit = serializers.SerializerMethodField(
        help_text="what target_length counts: characters for Chinese and Japanese, else words")

    class Meta:
        model = ContentBrief
        fields = [
            "id", "url", "title", "state", "content_type", "origin", "external_id", "priority",
            "variants", "target_length", "length_unit", "language", "due_at", "created_at",
            "updated_at",
        ]

    def get_url(self, brief: ContentBrief) -> str:
        return reverse("api:brief-detail", kwargs={"brief_id": brief.pk})

    @extend_schema_field(serializers.ChoiceField(choices=UNITS))
    def get_length_unit(self, brief: ContentBrief) -> str:
        return length_unit(brief.language)


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


class ContentTypeSerializer(WorkspaceScopedSerializer):
    default_length = serializers.IntegerField(
        min_value=10, max_value=5000, required=False,
        help_text="words; characters when the language is Chinese or Japanese")
    language = serializers.RegexField(
        r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$", max_length=16, required=False,
        help_text="the language of a new brief that names none (default en)",
        error_messages={"invalid": "A language tag such as 'en' or 'pt-BR'."})
    default_variants = serializers.IntegerField(min_value=1, max_value=8, required=False)
    prompt_template = serializers.CharField(max_length=20_000, trim_whitespace=False,
                                            help_text="Python format fields: " + ", ".join(
                                                "{" + f + "}" for f in PROMPT_FIELDS))
    model_profile_id = IdField(required=False, allow_null=True)

    class Meta:
        model = ContentType
        fields = ["id", "name", "slug", "prompt_template", "default_length", "default_variants",
                  "language", "model_profile_id", "created_at", "updated_at"]

    def validate_prompt_template(self, value: str) -> str:
        try:
            template_validate(value)
        except DomainError as exc:
            raise serializers.ValidationError(str(exc)) from None
        return value

    def validate_slug(self, value: str) -> str:
        if self._others(ContentType).filter(slug=value).exists():
            raise serializers.ValidationError(f"A content type with slug '{value}' already exists.")
        return value

    def validate_model_profile_id(self, value: int | None) -> int | None:
        if value is not None and not ModelProfile.objects.filter(
                workspace=self.context["workspace"], pk=value).exists():
            raise serializers.ValidationError(f"Unknown model profile {value} in this workspace.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # The service takes the profile itself.
        if "model_profile_id" in attrs:
            ref = attrs.pop("model_profile_id")
            attrs["model_profile"] = ModelProfile.objects.get(pk=ref) if ref else None
        return attrs


class StyleGuideSerializer(serializers.ModelSerializer):
    banned_terms = serializers.ListField(child=serializers.CharField(max_length=100),
                                         max_length=200, required=False)
    required_terms = serializers.ListField(child=serializers.CharField(max_length=100),
                                           max_length=200, required=False)
    example_texts = serializers.ListField(
        child=serializers.CharField(max_length=10_000, trim_whitespace=False), max_length=20,
        required=False)

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


def _number(name: str, value: object, low: float, high: float, whole: bool = False) -> str:
    kinds = int if whole else int | float
    if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
        return f"'{name}' must be a {'whole ' if whole else ''}number from {low} to {high}."
    return ""


# What the generation workers read from a profile (workers/generation/requests.py), with the
# ranges the API accepts: name -> message for a bad value, or "".
MODEL_PARAMETERS = {
    "temperature": lambda v: _number("temperature", v, 0, 2),
    # one per variant, cycled: variant i samples at temperatures[i % len]
    "temperatures": lambda v: "" if isinstance(v, list) and 0 < len(v) <= 16 and not any(
        _number("temperatures", t, 0, 2) for t in v)
        else "'temperatures' must be a list of 1 to 16 numbers from 0 to 2.",
    "top_p": lambda v: _number("top_p", v, 0.01, 1),
    "max_new_tokens": lambda v: _number("max_new_tokens", v, 1, 4096, whole=True),
    "min_new_tokens": lambda v: _number("min_new_tokens", v, 0, 4096, whole=True),
    "seed": lambda v: _number("seed", v, 0, 2**62, whole=True),
    "stop": lambda v: "" if isinstance(v, list) and len(v) <= 8 and all(
        isinstance(s, str) and 0 < len(s) <= 100 for s in v)
        else "'stop' must be a list of at most 8 non-empty strings.",
    "chat": lambda v: "" if isinstance(v, bool) else "'chat' must be true or false.",
}


class ModelProfileSerializer(WorkspaceScopedSerializer):
    """A model profile; its API key (openai backend) is write-only: "" removes it."""

    parameters = serializers.DictField(required=False, help_text=", ".join(MODEL_PARAMETERS))
    queue = serializers.RegexField(r"^[a-z0-9][a-z0-9._-]*$", max_length=60, required=False)
    device = serializers.RegexField(r"^(auto|cpu|mps|cuda(:[0-9]{1,2})?)$", max_length=20,
                                    required=False,
                                    error_messages={"invalid": "auto, cpu, mps, cuda or cuda:N."})
    api_key_env = serializers.RegexField(
        r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=100, required=False, allow_blank=True,
        error_messages={"invalid": "An environment variable name."})
    # Inference servers often sit on bare internal hosts (http://gpu:8000/v1), which Django's
    # URL validator refuses.
    base_url = serializers.RegexField(
        r"^https?://[^\s/?#]+(/[^\s]*)?$", max_length=500, required=False, allow_blank=True,
        error_messages={"invalid": "An http(s) URL such as http://gpu:8000/v1."})
    timeout_s = serializers.IntegerField(min_value=1, max_value=86_400, required=False)
    api_key = serializers.CharField(write_only=True, required=False, allow_blank=True,
                                    max_length=500, trim_whitespace=False)
    has_api_key = serializers.SerializerMethodField()

    class Meta:
        model = ModelProfile
        fields = ["id", "name", "backend", "model", "parameters", "queue", "device", "base_url",
                  "api_key_env", "api_key", "has_api_key", "timeout_s", "created_at",
                  "updated_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # What the workers need to run the backend, as the row will read after this write.
        merged = {name: attrs.get(name, getattr(self.instance, name, ""))
                  for name in ("backend", "model", "base_url")}
        errors = {}
        if merged["backend"] in (Backend.TRANSFORMERS, Backend.OPENAI) and not merged["model"]:
            errors["model"] = [f"The {merged['backend']} backend needs a model name."]
        if merged["backend"] == Backend.OPENAI and not merged["base_url"]:
            errors["base_url"] = ["An openai profile needs the server's base URL."]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def get_has_api_key(self, profile: ModelProfile) -> bool:
        return bool(profile.api_key_encrypted)

    def validate_parameters(self, value: dict[str, Any]) -> dict[str, Any]:
        errors = [f"Unknown parameter '{name}'; known: {', '.join(MODEL_PARAMETERS)}."
                  for name in value if name not in MODEL_PARAMETERS]
        errors += [message for name, check in MODEL_PARAMETERS.items()
                   if name in value and (message := check(value[name]))]
        if not errors and value.get("min_new_tokens", 0) > value.get("max_new_tokens", 4096):
            errors.append("'min_new_tokens' must not exceed 'max_new_tokens'.")
        if errors:
            raise serializers.ValidationError(errors)
        return value


class ImportRowSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="1-based, as in the file (the CSV header is row 0)")
    status = serializers.ChoiceField(choices=["created", "refused"])
    brief_id = serializers.IntegerField(allow_null=True)
    errors = serializers.DictField(help_text="per field, when refused")


class ImportReportSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    refused = serializers.IntegerField()
    rows = ImportRowSerializer(many=True)
