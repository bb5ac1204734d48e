from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import F, QuerySet
from django.http import HttpRequest

from apps.accounts.admin_scoping import (
    ReadOnlyAdmin,
    ReadOnlyInline,
    ServiceAction,
    WorkspaceScopedAdmin,
)
from apps.accounts.roles import CAN_TRAIN
from apps.generation.models import (
    Draft,
    GenerationJob,
    GenerationQuota,
    ModelProfile,
    ModelVersion,
    TrainingKind,
    TrainingRun,
)
from apps.generation.services import model_profile_errors, model_profile_set_api_key
from apps.generation.training import training_run_create


def _evaluation_value(draft: Draft, name: str) -> str:
    evaluation = getattr(draft, "evaluation", None)
    return "—" if evaluation is None else f"{getattr(evaluation, name):.3f}"


def _excerpt(text: str, size: int = 160) -> str:
    return text[:size] + ("…" if len(text) > size else "")


class JobInline(ReadOnlyInline[GenerationJob]):
    model = GenerationJob
    fields = ("state", "attempts", "worker_id", "started_at", "finished_at",
              "completion_tokens", "error")
    readonly_fields = fields
    ordering = ("-id",)


class DraftScoreInline(ReadOnlyInline[Draft]):
    """A job's or a brief's drafts with their scores, best first."""

    model = Draft
    fields = ("variant", "job", "score", "relevance", "length_fit", "excerpt")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Draft]:
        return (
            super().get_queryset(request).select_related("job", "evaluation")
            .order_by(F("evaluation__score").desc(nulls_last=True), "variant")
        )

    @admin.display(description="score")
    def score(self, draft: Draft) -> str:
        return _evaluation_value(draft, "score")

    @admin.display(description="relevance")
    def relevance(self, draft: Draft) -> str:
        return _evaluation_value(draft, "relevance")

    @admin.display(description="length fit")
    def length_fit(self, draft: Draft) -> str:
        return _evaluation_value(draft, "length_fit")

    @admin.display(description="text")
    def excerpt(self, draft: Draft) -> str:
        return _excerpt(draft.text)


class ModelProfileForm(forms.ModelForm[ModelProfile]):
    base_url = forms.URLField(
        required=False, max_length=500, assume_scheme="https",
        help_text="openai: the server's base URL, e.g. http://gpu:8000/v1")
    api_key = forms.CharField(
        required=False, strip=True, widget=forms.PasswordInput(render_value=False),
        help_text="openai: stored encrypted and never shown again; leave empty to keep the "
                  "current key, or name an environment variable instead.")

    class Meta:
        model = ModelProfile
        fields = ("workspace", "name", "backend", "model", "parameters", "queue", "device",
                  "base_url", "api_key_env", "timeout_s")

    def clean(self) -> dict[str, Any]:
        """The profile rules the API and the dashboard apply (services), as field errors."""
        super().clean()
        cleaned = self.cleaned_data
        workspace = cleaned.get("workspace")
        if workspace is None or self.errors:
            return cleaned
        errors = model_profile_errors(
            workspace_id=workspace.pk, backend=cleaned.get("backend", ""),
            model=cleaned.get("model", ""), queue=cleaned.get("queue", ""),
            base_url=cleaned.get("base_url", ""), api_key_env=cleaned.get("api_key_env", ""))
        for field, message in errors.items():
            self.add_error(field, message)
        return cleaned


@admin.register(ModelProfile)
class ModelProfileAdmin(WorkspaceScopedAdmin[ModelProfile]):
    form = ModelProfileForm
    list_display = ("name", "workspace", "backend", "model", "base_url", "queue", "device",
                    "has_api_key", "updated_at")
    list_filter = ("backend", "queue", ("workspace", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name", "model")
    list_select_related = ("workspace",)
    readonly_fields = ("created_at", "updated_at")

    @admin.display(boolean=True, description="API key stored")
    def has_api_key(self, profile: ModelProfile) -> bool:
        return bool(profile.api_key_encrypted)

    def save_model(self, request: HttpRequest, obj: ModelProfile, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if form.cleaned_data.get("api_key"):
            model_profile_set_api_key(profile=obj, api_key=form.cleaned_data["api_key"],
                                      actor=request.user)


@admin.register(Draft)
class DraftAdmin(ReadOnlyAdmin[Draft]):
    workspace_path = "brief__workspace_id"
    list_display = ("id", "brief", "job", "variant", "model_name", "model_revision", "seed",
                    "prompt_template_version", "score", "completion_tokens", "created_at")
    list_filter = ("model_name", ("brief__workspace", admin.RelatedOnlyFieldListFilter))
    search_fields = ("=id", "brief__title", "text")
    list_select_related = ("brief", "job", "evaluation", "prompt_template_version__content_type")

    @admin.display(description="score", ordering="evaluation__score")
    def score(self, draft: Draft) -> str:
        return _evaluation_value(draft, "score")


@admin.register(GenerationQuota)
class GenerationQuotaAdmin(WorkspaceScopedAdmin[GenerationQuota]):
    """Monthly token and device-time budgets and the running-job cap of a workspace."""

    list_display = ("workspace", "monthly_tokens", "monthly_device_seconds", "max_running_jobs")
    list_select_related = ("workspace",)


@admin.register(TrainingRun)
class TrainingRunAdmin(ReadOnlyAdmin[TrainingRun]):
    """Runs are started by the action (on the generation queue) and written by the worker."""

    list_display = ("id", "workspace", "kind", "state", "steps", "final_loss",
                    "heldout_perplexity_before", "heldout_perplexity_after", "created_at")
    list_filter = ("kind", "state", ("workspace", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("workspace",)
    ordering = ("-created_at",)
    actions = ("finetune_again",)

    finetune_again = ServiceAction[TrainingRun](
        description="Fine-tune again on the workspace's published content",
        done="fine-tuning queued", roles=CAN_TRAIN,
        act=lambda run, actor: training_run_create(workspace_id=run.workspace_id,
                                                   kind=TrainingKind.FINETUNE, actor=actor),
    )


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyAdmin[ModelVersion]):
    """Versions are written by training runs and promoted through the registry's services."""

    list_display = ("id", "workspace", "number", "folder", "kind", "base", "revision",
                    "archived_at", "created_at")
    list_filter = ("kind", ("workspace", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("workspace",)
