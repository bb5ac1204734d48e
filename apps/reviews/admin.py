"""Reviews, revisions, comments, assignments, locks and guest links are written by the review
services (dashboard); here they are read. Approval policies are settings, edited here."""


from django.contrib import admin

from apps.accounts.admin_scoping import ReadOnlyAdmin, WorkspaceScopedAdmin
from apps.reviews import models


@admin.register(models.DraftRevision)
class DraftRevisionAdmin(ReadOnlyAdmin[models.DraftRevision]):
    workspace_path = "draft__brief__workspace_id"
    list_display = ("id", "draft", "number", "author", "created_at")
    list_filter = (("draft__brief__workspace", admin.RelatedOnlyFieldListFilter),)
    search_fields = ("=draft__id", "draft__brief__title", "text")
    list_select_related = ("draft", "author")


@admin.register(models.Review)
class ReviewAdmin(ReadOnlyAdmin[models.Review]):
    workspace_path = "brief__workspace_id"
    list_display = ("id", "brief", "decision", "reviewer", "guest_name", "superseded", "revision",
                    "created_at")
    list_filter = ("decision", "superseded", ("brief__workspace", admin.RelatedOnlyFieldListFilter))
    search_fields = ("brief__title", "comment", "reviewer__username", "guest_name")
    list_select_related = ("brief", "reviewer", "revision")


@admin.register(models.ApprovalPolicy)
class ApprovalPolicyAdmin(WorkspaceScopedAdmin[models.ApprovalPolicy]):
    workspace_path = "content_type__workspace_id"
    list_display = ("content_type", "approvals_required", "distinct_reviewers", "round_robin",
                    "review_sla_hours", "escalate_after_hours", "escalate_to")
    list_select_related = ("content_type", "escalate_to")


@admin.register(models.ReviewAssignment)
class ReviewAssignmentAdmin(ReadOnlyAdmin[models.ReviewAssignment]):
    workspace_path = "brief__workspace_id"
    list_display = ("brief", "reviewer", "assigned_by", "assigned_at", "reminded_at",
                    "escalated_at")
    search_fields = ("brief__title", "reviewer__username")
    list_select_related = ("brief", "reviewer", "assigned_by")


@admin.register(models.ReviewComment)
class ReviewCommentAdmin(ReadOnlyAdmin[models.ReviewComment]):
    workspace_path = "brief__workspace_id"
    list_display = ("id", "brief", "author", "parent", "created_at")
    search_fields = ("brief__title", "body", "author__username")
    list_select_related = ("brief", "author", "parent")


@admin.register(models.EditLock)
class EditLockAdmin(ReadOnlyAdmin[models.EditLock]):
    workspace_path = "draft__brief__workspace_id"
    list_display = ("draft", "holder", "expires_at")
    list_select_related = ("draft", "holder")


@admin.register(models.GuestLink)
class GuestLinkAdmin(ReadOnlyAdmin[models.GuestLink]):
    workspace_path = "brief__workspace_id"
    list_display = ("brief", "guest_name", "guest_email", "created_by", "expires_at", "used_at")
    search_fields = ("brief__title", "guest_name", "guest_email")
    list_select_related = ("brief", "created_by")
