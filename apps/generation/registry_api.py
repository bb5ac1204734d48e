"""The model registry over the API, for workspace admins: versions listed, read, compared,
promoted to a profile and archived; a profile rolled back."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.api_auth import WorkspaceDetailApi, WorkspaceListApi, request_workspace
from apps.accounts.roles import CAN_TRAIN
from apps.core.api import ApiBase
from apps.core.models import Workspace
from apps.core.serializers import IdField
from apps.generation.models import ModelProfile, ModelVersion, SuiteRun
from apps.generation.registry import (
    model_profile_candidate_set,
    model_profile_rollback,
    model_version_archive,
    model_version_promote,
    model_versions,
    model_versions_compare,
)
from apps.generation.suite import suite_run_cancel, suite_run_create, suite_run_latest

READ, WRITE = "briefs:read", "catalog:write"


class ModelVersionSerializer(serializers.ModelSerializer[ModelVersion]):
    training_run_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = ModelVersion
        fields = ["id", "number", "folder", "revision", "kind", "base", "dataset_version_id",
                  "training_run_id", "metrics", "archived_at", "created_at"]
        read_only_fields = fields


class ModelVersionDetailSerializer(ModelVersionSerializer):
    class Meta(ModelVersionSerializer.Meta):
        fields = [*ModelVersionSerializer.Meta.fields, "card"]
        read_only_fields = fields


class SuiteRunSerializer(serializers.ModelSerializer[SuiteRun]):
    class Meta:
        model = SuiteRun
        fields = ["id", "state", "results", "error", "prompt_tokens", "completion_tokens",
                  "device_seconds", "created_at", "updated_at", "finished_at"]
        read_only_fields = fields


class PromoteSerializer(serializers.Serializer[Any]):
    profile_id = IdField(help_text="a model profile of the workspace")


class CandidateSerializer(serializers.Serializer[Any]):
    version_id = IdField(allow_null=True, help_text="a version of the workspace; null ends the test")
    share = serializers.FloatField(min_value=0.0, max_value=1.0, default=0.1,
                                   help_text="0 to 1: the share of briefs the candidate writes")


class CompareQuerySerializer(serializers.Serializer[Any]):
    ids = serializers.RegexField(r"^\d{1,19}(,\d{1,19}){1,9}$",
                                 help_text="2 to 10 version ids, comma separated")


class ModelVersionListApi(WorkspaceListApi):
    """The models the workspace's training runs wrote, newest first."""

    read_scope = READ
    roles = CAN_TRAIN
    serializer_class = ModelVersionSerializer
    filterset_fields = ["kind"]

    def rows(self, workspace: Workspace) -> QuerySet[ModelVersion]:
        return model_versions(workspace_id=workspace.pk)


class ModelVersionDetailApi(WorkspaceDetailApi):
    read_scope = READ
    roles = CAN_TRAIN
    serializer_class = ModelVersionDetailSerializer

    def rows(self, workspace: Workspace) -> QuerySet[ModelVersion]:
        return model_versions(workspace_id=workspace.pk)


@extend_schema(parameters=[OpenApiParameter("ids", str, required=True,
                                            description="2 to 10 version ids, e.g. 3,5")],
               responses={200: {"type": "array", "items": {"type": "object"}}})
class ModelVersionCompareApi(ApiBase, APIView):
    """Versions side by side: figures, data, base, and the profiles using each."""

    read_scope = READ

    def get(self, request: Request) -> Response:
        workspace = request_workspace(request, CAN_TRAIN)
        query = CompareQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        ids = [int(i) for i in query.validated_data["ids"].split(",")]
        return Response(model_versions_compare(workspace_id=workspace.pk, ids=ids))


def _version(request: Request, pk: int) -> ModelVersion:
    workspace = request_workspace(request, CAN_TRAIN)
    return get_object_or_404(model_versions(workspace_id=workspace.pk), pk=pk)


@extend_schema(request=PromoteSerializer, responses={200: ModelVersionSerializer})
class ModelVersionPromoteApi(ApiBase, APIView):
    """Point a local-model profile of the workspace at this version (rollback undoes it)."""

    write_scope = WRITE

    def post(self, request: Request, pk: int) -> Response:
        version = _version(request, pk)
        fields = PromoteSerializer(data=request.data)
        fields.is_valid(raise_exception=True)
        profile = get_object_or_404(ModelProfile.objects.filter(
            workspace_id=version.workspace_id), pk=fields.validated_data["profile_id"])
        model_version_promote(version=version, profile=profile, actor=request.user)
        return Response(ModelVersionSerializer(version).data)


@extend_schema(methods=["GET"], responses={200: SuiteRunSerializer})
@extend_schema(methods=["POST"], request=None, responses={202: SuiteRunSerializer})
@extend_schema(methods=["DELETE"], request=None, responses={200: SuiteRunSerializer})
class ModelVersionEvaluateApi(ApiBase, APIView):
    """The evaluation suite on this version (the fixed test briefs it writes on a generation
    worker, scored and gated; the figures land in its `metrics.suite`): POST queues a run
    (429 once the workspace's monthly budget is spent: its tokens and device seconds count
    there), GET reads the latest one, DELETE cancels the queued or running one (409 when
    none is)."""

    read_scope, write_scope = READ, WRITE

    def get(self, request: Request, pk: int) -> Response:
        run = suite_run_latest(version=_version(request, pk))
        if run is None:
            raise NotFound("This version has not been evaluated yet.")
        return Response(SuiteRunSerializer(run).data)

    def post(self, request: Request, pk: int) -> Response:
        run = suite_run_create(version=_version(request, pk), actor=request.user)
        return Response(SuiteRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)

    def delete(self, request: Request, pk: int) -> Response:
        run = suite_run_cancel(version=_version(request, pk), actor=request.user)
        return Response(SuiteRunSerializer(run).data)


@extend_schema(request=None, responses={200: ModelVersionSerializer})
class ModelVersionArchiveApi(ApiBase, APIView):
    """Retire the version from promotion; refused while a profile uses it."""

    write_scope = WRITE

    def post(self, request: Request, pk: int) -> Response:
        version = model_version_archive(version=_version(request, pk), actor=request.user)
        return Response(ModelVersionSerializer(version).data)


@extend_schema(request=None, responses={200: {"type": "object", "properties": {
    "id": {"type": "integer"}, "backend": {"type": "string"}, "model": {"type": "string"}}}})
class ModelProfileRollbackApi(ApiBase, APIView):
    """The profile's last promotion undone: it runs what it ran before."""

    write_scope = WRITE

    def post(self, request: Request, pk: int) -> Response:
        workspace = request_workspace(request, CAN_TRAIN)
        profile = get_object_or_404(ModelProfile.objects.filter(workspace=workspace), pk=pk)
        profile = model_profile_rollback(profile=profile, actor=request.user)
        return Response({"id": profile.pk, "backend": profile.backend, "model": profile.model},
                        status=status.HTTP_200_OK)


_PROFILE_FIELDS = {"id": {"type": "integer"}, "model": {"type": "string"},
                   "candidate_version_id": {"type": "integer", "nullable": True},
                   "candidate_share": {"type": "number"}}


@extend_schema(request=CandidateSerializer,
               responses={200: {"type": "object", "properties": _PROFILE_FIELDS}})
class ModelProfileCandidateApi(ApiBase, APIView):
    """A/B: route a share of the profile's briefs to a candidate version (null ends it)."""

    write_scope = WRITE

    def post(self, request: Request, pk: int) -> Response:
        workspace = request_workspace(request, CAN_TRAIN)
        profile = get_object_or_404(ModelProfile.objects.filter(workspace=workspace), pk=pk)
        fields = CandidateSerializer(data=request.data)
        fields.is_valid(raise_exception=True)
        version_id = fields.validated_data["version_id"]
        version = (None if version_id is None
                   else get_object_or_404(model_versions(workspace_id=workspace.pk), pk=version_id))
        profile = model_profile_candidate_set(profile=profile, version=version,
                                              share=fields.validated_data["share"],
                                              actor=request.user)
        return Response({"id": profile.pk, "model": profile.model,
                         "candidate_version_id": profile.candidate_version_id,
                         "candidate_share": profile.candidate_share})
