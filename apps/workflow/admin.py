"""Admin screens whose actions move a brief (submit, cancel): they call the workflow."""

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.options import InlineModelAdmin
from django.http import HttpRequest

from apps.accounts.admin_scoping import ReadOnlyAdmin, ServiceAction, ServiceCreatedAdmin
from apps.accounts.roles import CAN_SUBMIT_BRIEFS
from apps.briefs.models import BriefState, ContentBrief, Origin
from apps.core.errors import DomainError
from apps.core.services import Actor
from apps.generation.admin import DraftScoreInline, JobInline
from apps.generation.models import GenerationJob
from apps.generation.services import JOB_ACTIVE
from apps.publishing.admin import PublicationInline
from apps.workflow.services import brief_cancel, brief_create, brief_submit

# What the prompt is made of: frozen once the brief has left `draft`.
CONTENT_FIELDS = ("title", "content_type", "style_guide", "topic", "audience", "tone", "keywords",
                  "target_length", "variants", "language", "source_material", "reference_texts")
SERVICE_FIELDS = ("id", "state", "origin", "external_id", "feedback", "created_by", "created_at",
                  "updated_at")


class ContentBriefForm(forms.ModelForm[ContentBrief]):
    class Meta:
        model = ContentBrief
        fields = ("workspace", *CONTENT_FIELDS, "due_at", "priority")

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        workspace = data.get("workspace") or getattr(self.instance, "workspace", None)
        for name in ("content_type", "style_guide"):
            chosen = data.get(name)
            if chosen is not None and workspace is not None and chosen.workspace_id != workspace.pk:
                self.add_error(name, "Pick one of this workspace's.")
        return data


@admin.register(ContentBrief)
class ContentBriefAdmin(ServiceCreatedAdmin[ContentBrief]):
    form = ContentBriefForm
    list_display = ("id", "title", "workspace", "content_type", "state", "priority", "due_at",
                    "origin", "created_at")
    list_filter = ("state", "origin", ("workspace", admin.RelatedOnlyFieldListFilter),
                   ("content_type", admin.RelatedOnlyFieldListFilter))
    search_fields = ("title", "topic", "external_id")
    list_select_related = ("workspace", "content_type")
    date_hierarchy = "created_at"
    inlines = (JobInline, DraftScoreInline, PublicationInline)
    actions = ("submit_briefs", "cancel_briefs")
    fieldsets = (
        (None, {"fields": ("workspace", *CONTENT_FIELDS)}),
        ("Scheduling", {"fields": ("due_at", "priority")}),
        ("Lifecycle", {"fields": SERVICE_FIELDS}),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is None:
            return SERVICE_FIELDS
        if obj.state != BriefState.DRAFT:
            return ("workspace", *SERVICE_FIELDS, *CONTENT_FIELDS)
        return ("workspace", *SERVICE_FIELDS)

    def get_inlines(self, request: HttpRequest, obj: ContentBrief | None
                    ) -> tuple[type[InlineModelAdmin[Any, Any]], ...]:
        return tuple(self.inlines) if obj is not None else ()

    def service_create(self, request: HttpRequest, obj: ContentBrief, form: Any) -> ContentBrief:
        # A new brief starts life through the service (audit, event); "Submit" queues it.
        return brief_create(
            workspace=obj.workspace, created_by=request.user, origin=Origin.DASHBOARD,
            submit=False, due_at=obj.due_at, priority=obj.priority,
            **{name: getattr(obj, name) for name in CONTENT_FIELDS},
        )

    submit_briefs = ServiceAction[ContentBrief](
        description="Submit: queue generation", permissions=("change",), done="submitted",
        roles=CAN_SUBMIT_BRIEFS, act=lambda brief, actor: brief_submit(brief=brief, actor=actor),
    )
    cancel_briefs = ServiceAction[ContentBrief](
        description="Cancel (and its running jobs)", permissions=("change",), done="cancelled",
        roles=CAN_SUBMIT_BRIEFS, act=lambda brief, actor: brief_cancel(brief=brief, actor=actor),
    )


def _job_cancel(job: GenerationJob, actor: Actor) -> None:
    if job.state not in JOB_ACTIVE:
        raise DomainError(f"This job has already ended ({job.state}).")
    # A job runs for its brief: cancelling the brief cancels its active jobs too,
    # so no brief is left waiting on a job that will never finish.
    brief_cancel(brief=job.brief, actor=actor)


@admin.register(GenerationJob)
class GenerationJobAdmin(ReadOnlyAdmin[GenerationJob]):
    list_display = ("id", "brief", "workspace", "state", "attempts", "retries", "worker_id",
                    "model_profile", "started_at", "finished_at", "prompt_tokens",
                    "completion_tokens", "first_token_s", "latency_s", "device_seconds")
    list_filter = ("state", ("workspace", admin.RelatedOnlyFieldListFilter),
                   ("model_profile", admin.RelatedOnlyFieldListFilter))
    search_fields = ("=id", "brief__title", "worker_id")
    list_select_related = ("brief", "workspace", "model_profile")
    date_hierarchy = "created_at"
    inlines = (DraftScoreInline,)
    actions = ("cancel_jobs",)

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        # The form stays view-only; cancelling needs the model's change permission.
        return self.has_service_permission(request)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in GenerationJob._meta.fields]

    cancel_jobs = ServiceAction[GenerationJob](
        description="Cancel (the job and its brief)", permissions=("cancel",), done="cancelled",
        roles=CAN_SUBMIT_BRIEFS, act=_job_cancel, select_related=("brief",),
    )
