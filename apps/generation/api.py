"""Generation over REST: jobs (with what each cost; cancel); usage against the monthly budget;
model profiles read, created and updated; training runs listed, read and started."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.api_auth import (
    WorkspaceDetailApi,
    WorkspaceListApi,
    WorkspaceRowCreate,
    WorkspaceRowUpdate,
    request_workspace,
)
from apps.accounts.roles import CAN_TRAIN, CAN_VIEW
from apps.core.api import ApiBase, IdFilter
from apps.core.models import Workspace
from apps.generation.models import (
    GenerationJob,
    JobState,
    ModelProfile,
    TrainingKind,
    TrainingRun,
    TrainingState,
)
from apps.generation.selectors import (
    job_get,
    jobs_with_accounting,
    training_run_get,
    training_runs,
    usage_by_model,
)
from apps.generation.serializers import (
    JobAccountingDetailSerializer,
    JobAccountingSerializer,
    ModelProfileSerializer,
    TrainingRunCreateSerializer,
    TrainingRunDetailSerializer,
    TrainingRunSerializer,
    UsageQuerySerializer,
    UsageSerializer,
)
from apps.generation.services import (
    Usage,
    budget_left,
    budget_monthly,
    model_profile_create,
    model_profile_update,
    month_start,
    training_usage_since,
)
from apps.generation.training import training_run_cancel, training_run_create


class JobFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=JobState.choices)
    brief = IdFilter(field_name="brief_id")


class JobListApi(WorkspaceListApi):
    read_scope = "briefs:read"
    serializer_class = JobAccountingSerializer
    filterset_class = JobFilter

    def rows(self, workspace: Workspace) -> QuerySet[GenerationJob]:
        return jobs_with_accounting(workspace=workspace)


@extend_schema(methods=["GET"], responses=JobAccountingDetailSerializer)
class JobDetailApi(ApiBase, APIView):
    """A generation job with its brief, its drafts and their scores, its model and prompt
    template version, and what it used."""

    read_scope = "briefs:read"

    def get(self, request: Request, job_id: int) -> Response:
        workspace = request_workspace(request, CAN_VIEW)
        return Response(JobAccountingDetailSerializer(job_get(workspace=workspace,
                                                              job_id=job_id)).data)


@extend_schema(methods=["GET"], parameters=[UsageQuerySerializer], responses=UsageSerializer)
class UsageApi(ApiBase, APIView):
    """What the workspace's jobs used since a day, per model, and its training runs; this
    month's budget, and what generation and training together left of it."""

    read_scope = "briefs:read"

    def get(self, request: Request) -> Response:
        workspace = request_workspace(request, CAN_VIEW)
        query = UsageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        day = query.validated_data.get("since")
        since = datetime.combine(day, time.min, tzinfo=UTC) if day else month_start()
        rows = usage_by_model(workspace_id=workspace.pk, since=since)
        totals = Usage(jobs=sum(r.jobs for r in rows),
                       prompt_tokens=sum(r.prompt_tokens for r in rows),
                       completion_tokens=sum(r.completion_tokens for r in rows),
                       device_seconds=sum(r.device_seconds for r in rows))
        return Response(UsageSerializer({
            "since": since, "models": rows, "totals": totals,
            "budget": budget_monthly(workspace_id=workspace.pk),
            "training": training_usage_since(workspace_id=workspace.pk, since=since),
            "budget_left": budget_left(workspace_id=workspace.pk)}).data)


class ModelProfileListApi(WorkspaceRowCreate, WorkspaceListApi):
    read_scope, write_scope = "briefs:read", "catalog:write"
    queryset = ModelProfile.objects.all()
    serializer_class = ModelProfileSerializer
    filterset_fields = ["backend"]

    def create(self, workspace: Workspace, fields: dict[str, Any]) -> ModelProfile:
        return model_profile_create(workspace_id=workspace.pk, actor=self.request.user, **fields)


class ModelProfileDetailApi(WorkspaceRowUpdate, WorkspaceDetailApi):
    read_scope, write_scope = "briefs:read", "catalog:write"
    queryset = ModelProfile.objects.all()
    serializer_class = ModelProfileSerializer

    def update(self, row: ModelProfile, fields: dict[str, Any]) -> ModelProfile:
        return model_profile_update(profile=row, actor=self.request.user, **fields)


class TrainingRunFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=TrainingState.choices)
    kind = django_filters.ChoiceFilter(choices=TrainingKind.choices)


@extend_schema(methods=["POST"], request=TrainingRunCreateSerializer,
               responses={201: TrainingRunDetailSerializer})
class TrainingRunListApi(WorkspaceListApi):
    """Training runs of the workspace; admins start one (it queues on the generation queue,
    its loss streams as `training.progress` events on /ws/workspace/)."""

    read_scope, write_scope = "briefs:read", "catalog:write"
    serializer_class = TrainingRunSerializer
    filterset_class = TrainingRunFilter

    def rows(self, workspace: Workspace) -> QuerySet[TrainingRun]:
        return training_runs(workspace_id=workspace.pk)

    def post(self, request: Request) -> Response:
        workspace = request_workspace(request, CAN_TRAIN)
        fields = TrainingRunCreateSerializer(data=request.data)
        fields.is_valid(raise_exception=True)
        run = training_run_create(workspace_id=workspace.pk, actor=request.user,
                                  **fields.validated_data)
        return Response(TrainingRunDetailSerializer(run).data, status=status.HTTP_201_CREATED)


class TrainingRunDetailApi(WorkspaceDetailApi):
    read_scope = "briefs:read"
    queryset = TrainingRun.objects.all()
    serializer_class = TrainingRunDetailSerializer


@extend_schema(request=None, responses={200: TrainingRunSerializer})
class TrainingRunCancelApi(ApiBase, APIView):
    """Cancel a queued or running run: its worker stops at its next loss report and no model
    version is written; a run that already ended is a 409."""

    write_scope = "catalog:write"

    def post(self, request: Request, pk: int) -> Response:
        workspace = request_workspace(request, CAN_TRAIN)
        run = training_run_cancel(run=training_run_get(workspace_id=workspace.pk, run_id=pk),
                                  actor=request.user)
        return Response(TrainingRunSerializer(run).data)
