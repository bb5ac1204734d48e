from django.urls import include, path

from apps.dashboard import calendar_views, review_views, views

app_name = "dashboard"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("workspace/", views.workspace_switch, name="workspace_switch"),
    path("bulk/", views.queue_bulk, name="queue_bulk"),
    path("briefs/new/", views.brief_new, name="brief_new"),
    path("briefs/<int:brief_id>/", views.brief_detail, name="brief"),
    path("briefs/<int:brief_id>/card/", views.brief_card, name="brief_card"),
    path("briefs/<int:brief_id>/approve/", views.brief_approve, name="brief_approve"),
    path("briefs/<int:brief_id>/reject/", views.brief_reject, name="brief_reject"),
    path("briefs/<int:brief_id>/request-changes/", views.brief_request_changes,
         name="brief_request_changes"),
    path("briefs/<int:brief_id>/publish/", views.brief_publish_more, name="brief_publish"),
    path("briefs/<int:brief_id>/comments/", views.brief_comment, name="brief_comment"),
    path("briefs/<int:brief_id>/assign/", views.brief_assign, name="brief_assign"),
    path("briefs/<int:brief_id>/guest-link/", views.brief_guest_link, name="brief_guest_link"),
    path("briefs/<int:brief_id>/drafts/<int:draft_id>/edit/", views.draft_edit, name="draft_edit"),
    path("briefs/<int:brief_id>/drafts/<int:draft_id>/lock/", views.draft_lock, name="draft_lock"),
    path("briefs/<int:brief_id>/drafts/<int:draft_id>/preview/", review_views.draft_preview,
         name="draft_preview"),
    path("briefs/<int:brief_id>/undo/", review_views.brief_undo, name="brief_undo"),
    path("calendar/", calendar_views.calendar, name="calendar"),
    path("calendar/publications/<int:publication_id>/reschedule/",
         calendar_views.calendar_reschedule, name="calendar_reschedule"),
    path("calendar/publications/<int:publication_id>/cancel/", calendar_views.calendar_cancel,
         name="calendar_cancel"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/read/", views.notifications_read, name="notifications_read"),
    path("insights/", views.insights_page, name="insights"),
    path("insights.json", views.insights_json, name="insights_json"),
    path("training/", views.training, name="training"),
    path("", include("apps.datasets.urls")),  # datasets and the model registry
    path("settings/", include("apps.dashboard.settings_urls")),  # workspace settings, admins
    path("profile/", views.profile, name="profile"),
    path("profile/time-zone/", views.profile_time_zone, name="profile_time_zone"),
    path("guest/<str:token>/", views.guest_review, name="guest"),
]
