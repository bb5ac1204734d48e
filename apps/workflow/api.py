"""The API's commands that move a brief, and the brief itself as the pipeline sees it:
create (submitted at once), list, detail, submit, cancel, regenerate, the review decisions,
publish to more targets, cancel a job. Each command answers with what it changed as it now
stands, so a client needs no second call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.api_auth import WorkspaceListApi, request_workspace
from apps.accounts.roles import CAN_REVIEW, CAN_SUBMIT_BRIEFS, CAN_TRAIN, CAN_VIEW
from apps.briefs.models import BriefState, ContentBrief, Origin
from apps.briefs.selectors import brief_get, brief_list
from apps.briefs.serializers import BriefCreateSerializer, BriefListSerializer
from apps.core.api import ApiBase
from apps.core.api_time import PUBLISH_AT_HELP, LocalTimeField, PublishTimeSerializer
from apps.core.models import Workspace
from apps.core.serializers import IdField
from apps.generation.selectors import job_get
from apps.generation.serializers import JobAccountingDetailSerializer
from apps.publishing.selectors import publication_list
from apps.publishing.serializers import PublicationSerializer
from apps.reviews.serializers import ApproveSerializer, RejectSerializer, RequestChangesSerializer
from apps.workflow.model_comparison import model_version_comparison
from apps.workflow.selectors import brief_detail, brief_lineage
from apps.workflow.serializers import BriefDetailSerializer, BriefLineageSerializer
from apps.workflow.services import (
    brief_cancel,
    brief_create,
    brief_publish,
    brief_regenerate,
    brief_submit,
    job_cancel,
    review_approve,
    review_reject,
    review_request_changes,
)

BRIEF_EXAMPLE = OpenApiExample("A blog post", request_only=True, value={
    "title": "Rain gardens", "content_type": "blog-post", "topic": "How to plan a rain garden",
    "audience": "home gardeners", "keywords": ["rain", "garden"], "target_length": 300,
    "variants": 2, "external_id": "cms-881"})


class BriefFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=BriefState.choices)
    origin = django_filters.ChoiceFilter(choices=Origin.choices)
    content_type = django_filters.CharFilter(field_name="content_type__slug")
    external_id = django_filters.CharFilter()
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")


def _brief_response(workspace: Workspace, brief_id: int,
                    code: int = status.HTTP_200_OK) -> Response:
    """The brief as it now stands: what each brief command answers."""
    return Response(BriefDetailSerializer(brief_detail(workspace=workspace,
                                                       brief_id=brief_id)).data, status=code)


@extend_schema(methods=["POST"], request=BriefCreateSerializer,
               responses={201: BriefDetailSerializer}, examples=[BRIEF_EXAMPLE])
class BriefListCreateApi(WorkspaceListApi):
    read_scope, write_scope = "briefs:read", "briefs:write"
    serializer_class = BriefListSerializer
    filterset_class = BriefFilter

    def rows(self, workspace: Workspace) -> QuerySet[ContentBrief]:
        return brief_list(workspace=workspace)

    def post(self, request: Request) -> Response:
        workspace = request_workspace(request, CAN_SUBMIT_BRIEFS)
        fields = BriefCreateSerializer(data=request.data, context={"workspace": workspace})
        fields.is_valid(raise_exception=True)
        brief = brief_create(workspace=workspace, created_by=request.user, origin=Origin.API,
                             submit=True, **fields.validated_data)
        return _brief_response(workspace, brief.pk, status.HTTP_201_CREATED)


@extend_schema(methods=["GET"], responses=BriefDetailSerializer)
class BriefDetailApi(ApiBase, APIView):
    """A brief with its jobs, drafts and their scores, reviews and publications."""

    read_scope = "briefs:read"

    def get(self, request: Request, brief_id: int) -> Response:
        return _brief_response(request_workspace(request, CAN_VIEW), brief_id)


@extend_schema(methods=["GET"], responses=BriefLineageSerializer)
class BriefLineageApi(ApiBase, APIView):
    """How the brief's text came to be: prompt template version and rendered prompt, model,
    parameters and seeds, every draft's scores and the gate's decision, each review decision
    and edit, each publication with the engagement pulled back."""

    read_scope = "briefs:read"

    def get(self, request: Request, brief_id: int) -> Response:
        workspace = request_workspace(request, CAN_VIEW)
        return Response(BriefLineageSerializer(brief_lineage(workspace_id=workspace.pk,
                                                             brief_id=brief_id)).data)


@extend_schema(methods=["POST"], request=None, responses=BriefDetailSerializer)
class BriefActionApi(ApiBase, APIView):
    """POST with no body: one service moves the brief; answers the brief as it now stands."""

    write_scope = "briefs:write"
    service: Callable[..., ContentBrief]

    def post(self, request: Request, brief_id: int) -> Response:
        workspace = request_workspace(request, CAN_SUBMIT_BRIEFS)
        self.service(brief=brief_get(workspace=workspace, brief_id=brief_id), actor=request.user)
        return _brief_response(workspace, brief_id)


class BriefCancelApi(BriefActionApi):
    """Cancel a brief not yet approved, and its running job."""

    service = staticmethod(brief_cancel)


class BriefSubmitApi(BriefActionApi):
    """draft → queued, with a generation job."""

    service = staticmethod(brief_submit)


class BriefRegenerateApi(BriefActionApi):
    """failed → queued (retry), with a new job."""

    service = staticmethod(brief_regenerate)


class BriefDecisionApi(ApiBase, APIView):
    """A reviewer's decision on a brief: one service call; answers with the brief as it now is."""

    write_scope = "reviews:write"
    fields_class: type[serializers.Serializer[Any]]
    decide: Callable[..., object]

    def post(self, request: Request, brief_id: int) -> Response:
        workspace = request_workspace(request, CAN_REVIEW)
        brief = brief_get(workspace=workspace, brief_id=brief_id)
        fields = self.fields_class(data=request.data)
        fields.is_valid(raise_exception=True)
        type(self).decide(brief=brief, reviewer=request.user, **fields.validated_data)
        return _brief_response(workspace, brief_id)


@extend_schema(methods=["POST"], request=ApproveSerializer, responses=BriefDetailSerializer)
class BriefApproveApi(BriefDecisionApi):
    fields_class = ApproveSerializer
    decide = staticmethod(review_approve)


@extend_schema(methods=["POST"], request=RejectSerializer, responses=BriefDetailSerializer)
class BriefRejectApi(BriefDecisionApi):
    fields_class = RejectSerializer
    decide = staticmethod(review_reject)


@extend_schema(methods=["POST"], request=RequestChangesSerializer, responses=BriefDetailSerializer)
class BriefRequestChangesApi(BriefDecisionApi):
    fields_class = RequestChangesSerializer
    decide = staticmethod(review_request_changes)


class BriefPublishSerializer(PublishTimeSerializer):
    target_ids = serializers.ListField(child=IdField(), min_length=1, max_length=50,
                                       help_text="enabled targets of the brief's workspace")
    publish_at = LocalTimeField(required=False, help_text=f"{PUBLISH_AT_HELP}; default: now")


@extend_schema(methods=["POST"], request=BriefPublishSerializer,
               responses={201: PublicationSerializer(many=True)},
               examples=[OpenApiExample("Two more targets at 09:00 Paris time", request_only=True,
                                        value={"target_ids": [3, 5],
                                               "publish_at": "2030-05-01T09:00:00",
                                               "timezone": "Europe/Paris"})])
class BriefPublishApi(ApiBase, APIView):
    """An approved, scheduled or published brief's approved revision scheduled to more
    targets, or again to one whose publication was cancelled (re-opened, same idempotency
    key). A target already holding it, or a brief in another state, is a 409; answers with
    the publications scheduled, by target."""

    write_scope = "publications:write"

    def post(self, request: Request, brief_id: int) -> Response:
        workspace = request_workspace(request, CAN_SUBMIT_BRIEFS)
        brief = brief_get(workspace=workspace, brief_id=brief_id)
        given = BriefPublishSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        scheduled = brief_publish(brief=brief, actor=request.user, **given.validated_data)
        rows = publication_list(workspace=workspace).filter(pk__in=[p.pk for p in scheduled]).order_by(
            "target_id")
        return Response(PublicationSerializer(rows, many=True).data, status=status.HTTP_201_CREATED)


@extend_schema(methods=["POST"], request=None, responses=JobAccountingDetailSerializer)
class JobCancelApi(ApiBase, APIView):
    """Cancel a queued, running or evaluating job, and its brief while that waits on it; a
    job that already ended is a 409."""

    write_scope = "briefs:write"

    def post(self, request: Request, job_id: int) -> Response:
        workspace = request_workspace(request, CAN_SUBMIT_BRIEFS)
        job_cancel(workspace_id=workspace.pk, job_id=job_id, actor=request.user)
        return Response(JobAccountingDetailSerializer(job_get(workspace=workspace,
                                                              job_id=job_id)).data)


class ComparisonQuerySerializer(serializers.Serializer[Any]):
    profile_id = IdField(required=False, help_text="only the jobs of this model profile")


@extend_schema(parameters=[ComparisonQuerySerializer],
               responses={200: {"type": "array", "items": {"type": "object"}}})
class ModelVersionComparisonApi(ApiBase, APIView):
    """A/B: per model version, its jobs' gate pass rate, reviewer approval rate, edit distance
    to the approved text and engagement, each with its count and 95 % interval (admins)."""

    read_scope = "briefs:read"

    def get(self, request: Request) -> Response:
        workspace = request_workspace(request, CAN_TRAIN)
        query = ComparisonQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(model_version_comparison(
            workspace_id=workspace.pk, profile_id=query.validated_data.get("profile_id")))
