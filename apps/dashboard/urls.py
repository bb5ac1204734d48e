from django.urls import path

from apps.dashboard import views

app_name = "dashboard"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("workspace/", views.workspace_switch, name="workspace_switch"),
    path("briefs/new/", views.brief_new, name="brief_new"),
    path("briefs/<int:brief_id>/", views.brief_detail, name="brief"),
    path("briefs/<int:brief_id>/card/", views.brief_card, name="brief_card"),
    path("briefs/<int:brief_id>/approve/", views.brief_approve, name="brief_approve"),
    path("briefs/<int:brief_id>/reject/", views.brief_reject, name="brief_reject"),
    path("briefs/<int:brief_id>/request-changes/", views.brief_request_changes,
         name="brief_request_changes"),
]
