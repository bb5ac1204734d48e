"""Admin for members, tenants, the audit log and the outbox."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.accounts.admin_scoping import ReadOnlyAdmin, WorkspaceScopedAdmin
from apps.accounts.models import Membership
from apps.accounts.services import membership_grant, membership_remove
from apps.core.errors import DomainError
from apps.core.models import AuditEvent, OutboxEvent, Workspace


@admin.register(Membership)
class MembershipAdmin(WorkspaceScopedAdmin[Membership]):
    list_display = ("user", "workspace", "role", "created_at")
    list_filter = ("role", ("workspace", admin.RelatedOnlyFieldListFilter))
    search_fields = ("user__username", "user__email", "workspace__name")
    list_select_related = ("user", "workspace")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # Who and where identify a membership; only the role changes.
        return ("created_at",) if obj is None else ("user", "workspace", "created_at")

    def save_model(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        # Through the service: it audits, and refuses to demote a workspace's last admin.
        try:
            saved = membership_grant(user=obj.user, workspace=obj.workspace, role=obj.role,
                                     actor=request.user)
        except DomainError as exc:
            self.message_user(request, str(exc), level=messages.ERROR)
            return
        obj.pk, obj.created_at = saved.pk, saved.created_at

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        for membership in queryset:
            self.delete_model(request, membership)

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        try:
            membership_remove(membership=obj, actor=request.user)
        except DomainError as exc:
            self.message_user(request, f"{obj}: {exc}", level=messages.ERROR)


@admin.register(Workspace)
class WorkspaceAdmin(WorkspaceScopedAdmin[Workspace]):
    workspace_path = "pk"
    list_display = ("id", "name", "slug", "created_at")
    search_fields = ("name", "slug")
    readonly_fields = ("id", "created_at")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin[AuditEvent]):
    list_display = ("created_at", "workspace", "actor_label", "action", "subject_type",
                    "subject_id")
    list_filter = ("action", "subject_type", ("workspace", admin.RelatedOnlyFieldListFilter))
    search_fields = ("action", "actor_label", "=subject_id")
    list_select_related = ("workspace",)
    date_hierarchy = "created_at"


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyAdmin[OutboxEvent]):
    list_display = ("id", "type", "workspace", "subject_type", "subject_id", "created_at",
                    "relayed_at")
    list_filter = ("type", ("relayed_at", admin.EmptyFieldListFilter),
                   ("workspace", admin.RelatedOnlyFieldListFilter))
    search_fields = ("type", "=subject_id")
    list_select_related = ("workspace",)
