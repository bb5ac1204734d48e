"""The API's shapes of a brief, of content types and of style guides.

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
from workers.evaluation.language import UNITS, length_unit


class BriefCreateSerializer(LocalTimesSerializer):
    """A new brief. A `due_at` without an offset needs a `timezone`, as every time the API
    reads."""

    # The fields of `brief_create`; needs `workspace` in its context.

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


class ContentTypeRefSerializer(serializers.ModelSerializer[ContentType]):
    class Meta:
        model = ContentType
        fields = ["id", "slug", "name"]


class BriefRefSerializer(serializers.ModelSerializer[ContentBrief]):
    class Meta:
        model = ContentBrief
        fields = ["id", "title", "state"]


class BriefListSerializer(serializers.ModelSerializer[ContentBrief]):
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


class ContentTypeSerializer(WorkspaceScopedSerializer[ContentType]):
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

    def validate_model_profile_id(self, value: int | None) -> Any:
        # Reached through the workspace's own relation: generation sits above briefs.
        if value is None:
            return None
        profile = self.context["workspace"].model_profiles.filter(pk=value).first()
        if profile is None:
            raise serializers.ValidationError(f"Unknown model profile {value} in this workspace.")
        return profile

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # The service takes the profile itself.
        if "model_profile_id" in attrs:
            attrs["model_profile"] = attrs.pop("model_profile_id")
        return attrs


class StyleGuideSerializer(serializers.ModelSerializer[StyleGuide]):
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
