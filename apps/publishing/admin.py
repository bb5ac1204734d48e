from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import escape

from apps.accounts.admin_scoping import (
    ReadOnlyAdmin,
    ReadOnlyInline,
    ServiceAction,
    WorkspaceScopedAdmin,
)
from apps.accounts.roles import CAN_SUBMIT_BRIEFS
from apps.accounts.selectors import workspace_require
from apps.core.breaker import breaker_open
from apps.core.errors import DomainError
from apps.core.services import Actor
from apps.publishing.connectors import config_help, secret_help
from apps.publishing.health import target_test_connection
from apps.publishing.models import Publication, PublishingTarget
from apps.publishing.outcomes import publication_withdraw
from apps.publishing.services import publication_cancel, publication_retry, publication_update
from apps.publishing.targets import target_config_validate, target_create, target_secret_set
from apps.reviews.services import revision_latest


class PublicationInline(ReadOnlyInline[Publication]):
    model = Publication
    fields = ("target", "state", "scheduled_at", "attempts", "external_url", "last_error")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Publication]:
        return super().get_queryset(request).select_related("target")


class PublishingTargetForm(forms.ModelForm[PublishingTarget]):
    # Write-only: never rendered back, stored only encrypted.
    secret = forms.CharField(
        required=False, strip=False, widget=forms.PasswordInput(render_value=False),
        help_text=escape(f"Credentials, stored encrypted and never shown: {secret_help()}. "
                         "Leave empty to keep the stored one."),
    )

    min_interval_s = forms.IntegerField(
        required=False, min_value=0, initial=0, label="Min interval (s)",
        help_text="Rate limit: at least this many seconds between two posts (empty or 0: none).",
    )

    class Meta:
        model = PublishingTarget
        fields = ("workspace", "name", "kind", "config", "enabled", "auto_publish",
                  "min_interval_s")
        # The admin renders help as HTML; the connectors' words hold '<email>'.
        help_texts = {"config": escape(f"JSON, by kind (*: required). {config_help()}.")}

    def clean_min_interval_s(self) -> int:
        return self.cleaned_data.get("min_interval_s") or 0

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        kind = data.get("kind", getattr(self.instance, "kind", ""))
        if kind and "config" in data:
            try:
                target_config_validate(kind, data["config"] or {}, data.get("secret", ""))
            except DomainError as exc:
                self.add_error("secret" if "secret" in str(exc) else "config", str(exc))
        return data


@admin.register(PublishingTarget)
class PublishingTargetAdmin(WorkspaceScopedAdmin[PublishingTarget]):
    form = PublishingTargetForm
    list_display = ("name", "workspace", "kind", "enabled", "auto_publish", "has_secret",
                    "health", "updated_at")
    list_filter = ("kind", "enabled", "auto_publish",
                   ("workspace", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name",)
    list_select_related = ("workspace",)
    fieldsets = (
        (None, {"fields": ("workspace", "name", "kind", "config", "enabled", "auto_publish",
                           "min_interval_s")}),
        ("Credentials", {"fields": ("secret", "has_secret", "credentials_checked_at")}),
        ("Health", {"fields": ("health", "pause_reason", "consecutive_failures",
                               "paused_until", "next_slot_at")}),
        ("Timestamps", {"fields": ("created_at", "updated_at")}),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        fixed = ("has_secret", "credentials_checked_at", "health", "pause_reason",
                 "consecutive_failures", "paused_until", "next_slot_at", "created_at",
                 "updated_at")
        return fixed if obj is None else ("workspace", *fixed)

    @admin.display(boolean=True, description="secret set")
    def has_secret(self, target: PublishingTarget) -> bool:
        return bool(target.secret_encrypted)

    @admin.display(description="health")
    def health(self, target: PublishingTarget) -> str:
        if target.credentials_rejected:
            return "paused: credentials refused"
        if breaker_open(target, timezone.now()):
            return f"paused until {target.paused_until:%Y-%m-%d %H:%M} UTC"
        return "ok"

    actions = ("test_connection",)

    def has_test_permission(self, request: HttpRequest) -> bool:
        return self.has_change_permission(request)

    @admin.action(description="Test connection (checks the credentials)", permissions=("test",))
    def test_connection(self, request: HttpRequest, queryset: QuerySet[PublishingTarget]) -> None:
        for target in queryset:
            if not request.user.is_superuser:
                try:
                    workspace_require(request.user, CAN_SUBMIT_BRIEFS, target.workspace_id)
                except DomainError as exc:
                    self.message_user(request, f"{target}: {exc}", level=messages.ERROR)
                    continue
            ok, message = target_test_connection(target=target)
            self.message_user(request, message if ok else f"{target}: {message}",
                              level=messages.SUCCESS if ok else messages.ERROR)

    def save_model(self, request: HttpRequest, obj: PublishingTarget, form: Any,
                   change: bool) -> None:
        secret = form.cleaned_data.get("secret", "")
        if change:
            super().save_model(request, obj, form, change)
            if secret:
                target_secret_set(target=obj, secret=secret, actor=request.user)
            return
        target = target_create(workspace=obj.workspace, name=obj.name, kind=obj.kind,
                               config=obj.config, secret=secret, auto_publish=obj.auto_publish,
                               actor=request.user)
        obj.pk = target.pk
        if not obj.enabled or obj.min_interval_s:
            target.enabled = obj.enabled
            target.min_interval_s = obj.min_interval_s
            target.save(update_fields=["enabled", "min_interval_s", "updated_at"])
        obj.refresh_from_db()


def _withdraw(publication: Publication, actor: Actor) -> None:
    # Synchronous like "test connection": one bounded request per post (5 s to
    # connect, 30 s to answer), and the editor reads the target's answer at once.
    refused = publication_withdraw(publication=publication, actor=actor)
    if refused:
        raise DomainError(refused)


@admin.register(Publication)
class PublicationAdmin(ReadOnlyAdmin[Publication]):
    list_display = ("id", "brief", "target", "workspace", "state", "scheduled_at", "attempts",
                    "external_url", "published_at", "engagement")
    list_filter = ("state", ("workspace", admin.RelatedOnlyFieldListFilter),
                   ("target", admin.RelatedOnlyFieldListFilter))
    search_fields = ("=id", "brief__title", "external_id")
    list_select_related = ("brief", "target", "workspace")
    date_hierarchy = "created_at"
    actions = ("retry_publications", "cancel_publications", "withdraw_publications",
               "push_latest_revision")

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return self.has_service_permission(request)

    retry_publications = ServiceAction[Publication](
        description="Retry now (failed ones)", permissions=("retry",), done="scheduled again",
        roles=CAN_SUBMIT_BRIEFS,
        act=lambda publication, actor: publication_retry(publication=publication, actor=actor),
    )
    cancel_publications = ServiceAction[Publication](
        description="Cancel (not yet published ones)", permissions=("retry",), done="cancelled",
        roles=CAN_SUBMIT_BRIEFS,
        act=lambda publication, actor: publication_cancel(publication=publication, actor=actor),
    )
    withdraw_publications = ServiceAction[Publication](
        description="Withdraw from the target (published ones)", permissions=("retry",),
        done="withdrawn", roles=CAN_SUBMIT_BRIEFS, act=_withdraw, select_related=("target",),
    )
    push_latest_revision = ServiceAction[Publication](
        description="Push latest revision (published ones)", permissions=("retry",),
        done="update sent to the target", roles=CAN_SUBMIT_BRIEFS,
        act=lambda publication, actor: publication_update(
            publication=publication, revision=revision_latest(publication.revision.draft),
            actor=actor),
        select_related=("revision__draft",),
    )
