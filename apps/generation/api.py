"""Generation over REST: jobs, drafts and evaluations read only (the pipeline creates and moves
these); model profiles read, created and updated."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.api_auth import (
    ApiBase,
    IdFilter,
    WorkspaceDetailApi,
    WorkspaceListApi,
    request_workspace,
)
from apps.accounts.roles import CAN_VIEW
from apps.briefs.api import CatalogCreate, CatalogUpdate
from apps.briefs.serializers import (
    DraftSerializer,
    EvaluationSerializer,
    JobDetailSerializer,
    JobSerializer,
    ModelProfileSerializer,
)
from apps.core.models import Workspace
from apps.evaluation.models import Evaluation
from apps.generation.models import Draft, GenerationJob, JobState, ModelProfile
from apps.generation.selectors import job_get
from apps.generation.services import model_profile_create, model_profile_update
from apps.reviews.models import DraftRevision


class JobFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=JobState.choices)
    brief = IdFilter(field_name="brief_id")

    class Meta:
        model = GenerationJob
        fields = ["state", "brief"]


class JobListApi(WorkspaceListApi):
    read_scope = "briefs:read"
    serializer_class = JobSerializer
    filterset_class = JobFilter

    def rows(self, workspace: Workspace):
        return GenerationJob.objects.filter(workspace=workspace)


@extend_schema(methods=["GET"], responses=JobDetailSerializer)
class JobDetailApi(ApiBase, APIView):
    read_scope = "briefs:read"

    def get(self, request: Request, job_id: int) -> Response:
        workspace = request_workspace(request, CAN_VIEW)
        return Response(JobDetailSerializer(job_get(workspace=workspace, job_id=job_id)).data)


class DraftFilter(django_filters.FilterSet):
    brief = IdFilter(field_name="brief_id")
    job = IdFilter(field_name="job_id")

    class Meta:
        model = Draft
        fields = ["brief", "job"]


def _drafts(workspace: Workspace):
    revisions = DraftRevision.objects.select_related("author").order_by("-number")
    return (Draft.objects.filter(brief__workspace=workspace).select_related("evaluation")
            .prefetch_related(Prefetch("revisions", queryset=revisions,
                                       to_attr="revisions_newest_first")))


class DraftListApi(WorkspaceListApi):
    read_scope = "briefs:read"
    serializer_class = DraftSerializer
    filterset_class = DraftFilter
    ordering_fields = ["id", "created_at", "variant"]

    def rows(self, workspace: Workspace):
        return _drafts(workspace)


class DraftDetailApi(WorkspaceDetailApi):
    read_scope = "briefs:read"
    serializer_class = DraftSerializer

    def rows(self, workspace: Workspace):
        return _drafts(workspace)


class EvaluationFilter(django_filters.FilterSet):
    brief = IdFilter(field_name="draft__brief_id")
    job = IdFilter(field_name="draft__job_id")
    min_score = django_filters.NumberFilter(field_name="score", lookup_expr="gte")

    class Meta:
        model = Evaluation
        fields = ["brief", "job", "min_score"]


def _evaluations(workspace: Workspace):
    return Evaluation.objects.filter(draft__brief__workspace=workspace).select_related("draft")


class EvaluationListApi(WorkspaceListApi):
    read_scope = "briefs:read"
    serializer_class = EvaluationSerializer
    filterset_class = EvaluationFilter
    ordering_fields = ["id", "created_at", "score"]

    def rows(self, workspace: Workspace):
        return _evaluations(workspace)


class EvaluationDetailApi(WorkspaceDetailApi):
    read_scope = "briefs:read"
    serializer_class = EvaluationSerializer

    def rows(self, workspace: Workspace):
        return _evaluations(workspace)


@extend_schema(methods=["POST"], request=ModelProfileSerializer,
               responses={201: ModelProfileSerializer})
class ModelProfileListApi(CatalogCreate, WorkspaceListApi):
    read_scope, write_scope = "briefs:read", "catalog:write"
    serializer_class = ModelProfileSerializer
    filterset_fields = ["backend"]

    def rows(self, workspace: Workspace):
        return ModelProfile.objects.filter(workspace=workspace)

    def create(self, workspace: Workspace, fields: dict[str, Any]) -> ModelProfile:
        return model_profile_create(workspace_id=workspace.pk, actor=self.request.user, **fields)


class ModelProfileDetailApi(CatalogUpdate, WorkspaceDetailApi):
    read_scope, write_scope = "briefs:read", "catalog:write"
    serializer_class = ModelProfileSerializer

    def rows(self, workspace: Workspace):
        return ModelProfile.objects.filter(workspace=workspace)

    def update(self, row: ModelProfile, fields: dict[str, Any]) -> ModelProfile:
        return model_profile_update(profile=row, actor=self.request.user, **fields)
