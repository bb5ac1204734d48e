from typing import Any

from django import forms
from django.contrib import admin
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.accounts.roles import CAN_SUBMIT_BRIEFS
from apps.core.admin import ReadOnlyAdmin, ReadOnlyInline, WorkspaceScopedAdmin, run_service_action
from apps.core.crypto import secret_encrypt
from apps.core.errors import DomainError
from apps.publishing.models import Publication, PublishingTarget
from apps.publishing.services import publication_retry, target_config_validate, target_create


class PublicationInline(ReadOnlyInline):
    model = Publication
    fields = ("target", "state", "scheduled_at", "attempts", "external_url", "last_error")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("target")


class PublishingTargetForm(forms.ModelForm):
    # Write-only: never rendered back, stored only encrypted.
    secret = forms.CharField(
        required=False, strip=False, widget=forms.PasswordInput(render_value=False),
        help_text="Signing key or token. Leave empty to keep the stored one.",
    )

    class Meta:
        model = PublishingTarget
        fields = ("workspace", "name", "kind", "config", "enabled", "auto_publish")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind = data.get("kind", getattr(self.instance, "kind", ""))
        if kind and "config" in data:
            try:
                target_config_validate(kind, data["config"] or {}, data.get("secret", ""))
            except DomainError as exc:
                self.add_error("secret" if "secret" in str(exc) else "config", str(exc))
        return data


@admin.register(PublishingTarget)
class PublishingTargetAdmin(WorkspaceScopedAdmin):
    form = PublishingTargetForm
    list_display = ("name", "workspace", "kind", "enabled", "auto_publish", "has_secret",
                    "updated_at")
    list_filter = ("kind", "enabled", "auto_publish",
                   ("workspace", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name",)
    list_select_related = ("workspace",)
    fieldsets = (
        (None, {"fields": ("workspace", "name", "kind", "config", "enabled", "auto_publish")}),
        ("Credentials", {"fields": ("secret", "has_secret")}),
        ("Timestamps", {"fields": ("created_at", "updated_at")}),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        fixed = ("has_secret", "created_at", "updated_at")
        return fixed if obj is None else ("workspace", *fixed)

    @admin.display(boolean=True, description="secret set")
    def has_secret(self, target: PublishingTarget) -> bool:
        return bool(target.secret_encrypted)

    def save_model(self, request: HttpRequest, obj: PublishingTarget, form: Any,
                   change: bool) -> None:
        secret = form.cleaned_data.get("secret", "")
        if change:
            if secret:
                obj.secret_encrypted = secret_encrypt(secret)
            super().save_model(request, obj, form, change)
            return
        target = target_create(workspace=obj.workspace, name=obj.name, kind=obj.kind,
                               config=obj.config, secret=secret, auto_publish=obj.auto_publish,
                               actor=request.user)
        obj.pk = target.pk
        if not obj.enabled:
            target.enabled = False
            target.save(update_fields=["enabled", "updated_at"])
        obj.refresh_from_db()


@admin.register(Publication)
class PublicationAdmin(ReadOnlyAdmin):
    list_display = ("id", "brief", "target", "workspace", "state", "scheduled_at", "attempts",
                    "external_url", "published_at")
    list_filter = ("state", ("workspace", admin.RelatedOnlyFieldListFilter),
                   ("target", admin.RelatedOnlyFieldListFilter))
    search_fields = ("=id", "brief__title", "external_id")
    list_select_related = ("brief", "target", "workspace")
    date_hierarchy = "created_at"
    actions = ("retry_publications",)
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}  # Django 6's default

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return self.has_service_permission(request)

    @admin.action(description="Retry now (failed ones)", permissions=("retry",))
    def retry_publications(self, request: HttpRequest, queryset: QuerySet) -> None:
        run_service_action(
            self, request, queryset, done="scheduled again", roles=CAN_SUBMIT_BRIEFS,
            workspace_of=lambda publication: publication.workspace_id,
            act=lambda publication: publication_retry(publication=publication, actor=request.user),
        )
