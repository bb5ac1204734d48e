from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from apps.accounts.models import Membership
from apps.accounts.services import membership_grant
from apps.core.admin import WorkspaceScopedAdmin


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
        # The service also moves the user into the role's permission group.
        saved = membership_grant(user=obj.user, workspace=obj.workspace, role=obj.role)
        obj.pk, obj.created_at = saved.pk, saved.created_at
