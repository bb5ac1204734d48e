
from django import forms
from django.contrib import admin

from apps.accounts.admin_scoping import WorkspaceScopedAdmin
from apps.briefs.models import ContentType, StyleGuide
from apps.briefs.prompting import template_validate
from apps.core.errors import DomainError


class ContentTypeForm(forms.ModelForm[ContentType]):
    class Meta:
        model = ContentType
        fields = ("workspace", "name", "slug", "prompt_template", "default_length",
                  "default_variants", "model_profile")

    def clean_prompt_template(self) -> str:
        template: str = self.cleaned_data["prompt_template"]
        try:
            template_validate(template)
        except DomainError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return template


@admin.register(ContentType)
class ContentTypeAdmin(WorkspaceScopedAdmin[ContentType]):
    form = ContentTypeForm
    list_display = ("name", "slug", "workspace", "default_length", "default_variants",
                    "model_profile", "updated_at")
    list_filter = (("workspace", admin.RelatedOnlyFieldListFilter),)
    search_fields = ("name", "slug")
    list_select_related = ("workspace", "model_profile")
    readonly_fields = ("created_at", "updated_at")


@admin.register(StyleGuide)
class StyleGuideAdmin(WorkspaceScopedAdmin[StyleGuide]):
    list_display = ("name", "workspace", "tone", "updated_at")
    list_filter = (("workspace", admin.RelatedOnlyFieldListFilter),)
    search_fields = ("name", "tone")
    list_select_related = ("workspace",)
    readonly_fields = ("created_at", "updated_at")
