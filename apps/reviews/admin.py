"""Reviews and revisions are written by the review services (dashboard); here they are read."""

from django.contrib import admin

from apps.core.admin import ReadOnlyAdmin
from apps.reviews.models import DraftRevision, Review


@admin.register(DraftRevision)
class DraftRevisionAdmin(ReadOnlyAdmin):
    workspace_path = "draft__brief__workspace_id"
    list_display = ("id", "draft", "number", "author", "created_at")
    list_filter = (("draft__brief__workspace", admin.RelatedOnlyFieldListFilter),)
    search_fields = ("=draft__id", "draft__brief__title", "text")
    list_select_related = ("draft", "author")


@admin.register(Review)
class ReviewAdmin(ReadOnlyAdmin):
    workspace_path = "brief__workspace_id"
    list_display = ("id", "brief", "decision", "reviewer", "revision", "created_at")
    list_filter = ("decision", ("brief__workspace", admin.RelatedOnlyFieldListFilter))
    search_fields = ("brief__title", "comment", "reviewer__username")
    list_select_related = ("brief", "reviewer", "revision")
