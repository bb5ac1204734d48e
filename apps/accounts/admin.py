from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.accounts.models import Membership
from apps.accounts.services import membership_grant, membership_remove
from apps.core.admin import WorkspaceScopedAdmin
from apps.core.errors import DomainError


@admin.register(Membership)
class MembershipAdmin(WorkspaceScopedAdmin):
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
