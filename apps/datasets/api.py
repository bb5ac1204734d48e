"""Datasets over the API, for workspace admins: create, import documents, build versions,
read a version's stats, data card and samples."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.api_auth import WorkspaceDetailApi, WorkspaceListApi, WorkspaceRowCreate, request_workspace
from apps.accounts.roles import CAN_GOVERN, CAN_TRAIN
from apps.core.api import ApiBase
from apps.core.json_input import CheckedJSONParser
from apps.core.models import Workspace
from apps.datasets.models import Dataset, DatasetVersion, ImportSource
from apps.datasets.selectors import dataset_versions, datasets
from apps.datasets.serializers import (
    DatasetBuildSerializer,
    DatasetDetailSerializer,
    DatasetImportRequestSerializer,
    DatasetImportSerializer,
    DatasetSerializer,
    DatasetTrainSerializer,
    DatasetVersionDetailSerializer,
    DatasetVersionSerializer,
)
from apps.datasets.services import (
    dataset_create,
    dataset_import_source,
    dataset_version_cancel,
    dataset_version_create,
    dataset_version_train,
)
from apps.generation.serializers import TrainingRunDetailSerializer

READ, WRITE = "briefs:read", "catalog:write"


class DatasetListApi(WorkspaceRowCreate, WorkspaceListApi):
    """The workspace's datasets (admins: they hold the workspace's texts)."""

    read_scope, write_scope = READ, WRITE
    roles = write_roles = CAN_GOVERN
    serializer_class = DatasetSerializer

    def rows(self, workspace: Workspace) -> QuerySet[Dataset]:
        return datasets(workspace_id=workspace.pk)

    def create(self, workspace: Workspace, fields: dict[str, Any]) -> Dataset:
        return dataset_create(workspace=workspace, actor=self.request.user, **fields)


class DatasetDetailApi(WorkspaceDetailApi):
    read_scope = READ
    roles = CAN_GOVERN
    serializer_class = DatasetDetailSerializer

    def rows(self, workspace: Workspace) -> QuerySet[Dataset]:
        return datasets(workspace_id=workspace.pk).prefetch_related("imports", "versions")


def _dataset(request: Request, pk: int) -> Dataset:
    workspace = request_workspace(request, CAN_GOVERN)
    return get_object_or_404(datasets(workspace_id=workspace.pk), pk=pk)


@extend_schema(methods=["POST"], request={
    "multipart/form-data": DatasetImportRequestSerializer,
    "application/json": DatasetImportRequestSerializer},
    responses={201: DatasetImportSerializer})
class DatasetImportApi(ApiBase, APIView):
    """Add documents: an uploaded file, the published revisions, the feed entries, or a
    WordPress or Ghost target's posts (fetched by a job: the import answers `queued`)."""

    write_scope = WRITE
    parser_classes = [CheckedJSONParser, MultiPartParser]

    def post(self, request: Request, pk: int) -> Response:
        dataset = _dataset(request, pk)
        fields = DatasetImportRequestSerializer(data=request.data)
        fields.is_valid(raise_exception=True)
        given: dict[str, Any] = fields.validated_data
        item = dataset_import_source(
            dataset=dataset, source=given.get("source", ImportSource.UPLOAD),
            actor=request.user, upload=given.get("file"), target_id=given.get("target_id"))
        return Response(DatasetImportSerializer(item).data, status=status.HTTP_201_CREATED)


@extend_schema(methods=["POST"], request=DatasetBuildSerializer,
               responses={201: DatasetVersionSerializer})
class DatasetBuildApi(ApiBase, APIView):
    """Build a new version from every finished import (a job on the default queue; its
    progress streams as `dataset.progress` events to the admins' sockets on /ws/workspace/)."""

    write_scope = WRITE

    def post(self, request: Request, pk: int) -> Response:
        dataset = _dataset(request, pk)
        fields = DatasetBuildSerializer(data=request.data)
        fields.is_valid(raise_exception=True)
        version = dataset_version_create(dataset=dataset, actor=request.user,
                                         options=fields.validated_data["options"])
        return Response(DatasetVersionSerializer(version).data, status=status.HTTP_201_CREATED)


class DatasetVersionListApi(WorkspaceListApi):
    read_scope = READ
    roles = CAN_GOVERN
    serializer_class = DatasetVersionSerializer
    filterset_fields = ["dataset", "state"]

    def rows(self, workspace: Workspace) -> QuerySet[DatasetVersion]:
        return dataset_versions(workspace_id=workspace.pk)


class DatasetVersionDetailApi(WorkspaceDetailApi):
    """A version's stats, data card (Markdown), and a few cleaned documents beside their
    originals."""

    read_scope = READ
    roles = CAN_GOVERN
    serializer_class = DatasetVersionDetailSerializer

    def rows(self, workspace: Workspace) -> QuerySet[DatasetVersion]:
        return dataset_versions(workspace_id=workspace.pk)


@extend_schema(request=DatasetTrainSerializer, responses={201: TrainingRunDetailSerializer})
class DatasetVersionTrainApi(ApiBase, APIView):
    """Train on the version: its train split trains, its test split measures the held-out
    perplexity; the run writes a new model version of the workspace (loss streams as
    `training.progress`)."""

    write_scope = WRITE

    def post(self, request: Request, pk: int) -> Response:
        workspace = request_workspace(request, CAN_TRAIN)
        version = get_object_or_404(dataset_versions(workspace_id=workspace.pk), pk=pk)
        fields = DatasetTrainSerializer(data=request.data)
        fields.is_valid(raise_exception=True)
        run = dataset_version_train(version=version, actor=request.user, **fields.validated_data)
        return Response(TrainingRunDetailSerializer(run).data, status=status.HTTP_201_CREATED)


@extend_schema(request=None, responses={200: DatasetVersionSerializer})
class DatasetVersionCancelApi(ApiBase, APIView):
    """Cancel a queued or running build: its worker stops at its next progress report and
    writes nothing more; a build that already ended is a 409."""

    write_scope = WRITE

    def post(self, request: Request, pk: int) -> Response:
        workspace = request_workspace(request, CAN_GOVERN)
        version = get_object_or_404(dataset_versions(workspace_id=workspace.pk), pk=pk)
        version = dataset_version_cancel(version=version, actor=request.user)
        return Response(DatasetVersionSerializer(version).data)
