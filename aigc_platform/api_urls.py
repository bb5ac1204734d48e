"""REST API v1 (mounted at /api/v1/)."""

from django.urls import path

from apps.briefs.api import BriefCancelApi, BriefDetailApi, BriefListCreateApi
from apps.generation.api import JobDetailApi
from apps.integrations.api import InboundHookApi
from apps.publishing.api import PublicationListApi
from apps.reviews.api import BriefApproveApi, BriefRejectApi, BriefRequestChangesApi

app_name = "api"

urlpatterns = [
    path("briefs/", BriefListCreateApi.as_view(), name="brief-list"),
    path("briefs/<int:brief_id>/", BriefDetailApi.as_view(), name="brief-detail"),
    path("briefs/<int:brief_id>/cancel/", BriefCancelApi.as_view(), name="brief-cancel"),
    path("briefs/<int:brief_id>/approve/", BriefApproveApi.as_view(), name="brief-approve"),
    path("briefs/<int:brief_id>/reject/", BriefRejectApi.as_view(), name="brief-reject"),
    path("briefs/<int:brief_id>/request-changes/", BriefRequestChangesApi.as_view(),
         name="brief-request-changes"),
    path("jobs/<int:job_id>/", JobDetailApi.as_view(), name="job-detail"),
    path("hooks/<slug:slug>/", InboundHookApi.as_view(), name="hook-receive"),
    path("publications/", PublicationListApi.as_view(), name="publication-list"),
]
