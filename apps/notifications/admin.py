from django.contrib import admin

from apps.accounts.admin_scoping import ReadOnlyAdmin
from apps.notifications.models import Notification


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin[Notification]):
    list_display = ("user", "kind", "message", "brief", "created_at", "read_at")
    list_filter = ("kind", ("workspace", admin.RelatedOnlyFieldListFilter))
    search_fields = ("user__username", "message")
    list_select_related = ("user", "brief")
