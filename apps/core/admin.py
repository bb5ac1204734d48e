"""Admin for tenants, the audit log and the outbox, plus what every app's admin shares.

Every admin here scopes rows to the workspaces the user is a member of, and
moves states only through admin actions that call services.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.accounts.models import Membership
from apps.accounts.selectors import workspace_require
from apps.core.errors import DomainError
from apps.core.models import AuditEvent, OutboxEvent, Workspace


def member_workspace_ids(request: HttpRequest) -> QuerySet:
    return Membership.objects.filter(user_id=request.user.pk).values("workspace_id")


class WorkspaceScopedAdmin(admin.ModelAdmin):
    """Non-superusers see (and may pick in forms) only rows of their own workspaces.

    `workspace_path` is the lookup from the model to its Workspace id.
    """

    workspace_path = "workspace_id"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.workspace_path}__in": member_workspace_ids(request)})

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if not request.user.is_superuser:
            related = db_field.remote_field.model
            if related is Workspace:
                kwargs["queryset"] = Workspace.objects.filter(pk__in=member_workspace_ids(request))
            elif any(f.name == "workspace" for f in related._meta.fields):
                kwargs["queryset"] = related._default_manager.filter(
                    workspace_id__in=member_workspace_ids(request)
                )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ReadOnlyAdmin(WorkspaceScopedAdmin):
    """Rows written only by services and workers: viewable, never edited here."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_service_permission(self, request: HttpRequest) -> bool:
        """For actions: the model's change permission, which the forms here never use."""
        return super().has_change_permission(request)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def run_service_action(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    objects: Iterable[models.Model],
    *,
    done: str,
    act: Callable[[models.Model], object],
    roles: Iterable[str],
    workspace_of: Callable[[models.Model], int],
) -> None:
    """Call a service per object; report each success or refusal, never a 500.

    A refusal (a DomainError: an illegal edge, a missing role) is the
    service's own message at error level; the other objects still run.
    """
    roles = tuple(roles)
    for obj in objects:
        try:
            if not request.user.is_superuser:
                workspace_require(request.user, roles, workspace_of(obj))
            act(obj)
        except DomainError as exc:
            model_admin.message_user(request, f"{obj}: {exc}", level=messages.ERROR)
        else:
            model_admin.message_user(request, f"{obj}: {done}.", level=messages.SUCCESS)


@admin.register(Workspace)
class WorkspaceAdmin(WorkspaceScopedAdmin):
    workspace_path = "pk"
    list_display = ("id", "name", "slug", "created_at")
    search_fields = ("name", "slug")
    readonly_fields = ("id", "created_at")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "workspace", "actor_label", "action", "subject_type",
                    "subject_id")
    list_filter = ("action", "subject_type", ("workspace", admin.RelatedOnlyFieldListFilter))
    search_fields = ("action", "actor_label", "=subject_id")
    list_select_related = ("workspace",)
    date_hierarchy = "created_at"


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "type", "workspace", "subject_type", "subject_id", "created_at",
                    "relayed_at")
    list_filter = ("type", ("relayed_at", admin.EmptyFieldListFilter),
                   ("workspace", admin.RelatedOnlyFieldListFilter))
    search_fields = ("type", "=subject_id")
    list_select_related = ("workspace",)
