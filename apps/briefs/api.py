"""Briefs over REST: create (submitted at once), list, detail, the brief's actions, bulk import;
content types and style guides (read, create, update)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import django_filters
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.api_auth import (
    ApiBase,
    WorkspaceDetailApi,
    WorkspaceListApi,
    WorkspaceRowCreate,
    WorkspaceRowUpdate,
    request_workspace,
)
from apps.accounts.roles import CAN_SUBMIT_BRIEFS, CAN_VIEW
from apps.briefs.models import BriefState, ContentBrief, ContentType, Origin, StyleGuide
from apps.briefs.selectors import brief_detail, brief_get, brief_list
from apps.briefs.serializers import (
    BriefCreateSerializer,
    BriefListSerializer,
    ContentTypeSerializer,
    ImportReportSerializer,
    StyleGuideSerializer,
)
from apps.briefs.services import (
    brief_cancel,
    brief_create,
    brief_regenerate,
    brief_submit,
    content_type_create,
    content_type_update,
    style_guide_create,
    style_guide_update,
)
from apps.core.json_input import CheckedJSONParser
from apps.core.models import Workspace
from apps.integrations.importing import CsvParser, briefs_import
from apps.workflow.serializers import BriefDetailSerializer

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

    class Meta:
        model = ContentBrief
        fields = ["state", "origin", "content_type", "external_id"]


@extend_schema(methods=["POST"], request=BriefCreateSerializer,
               responses={201: BriefDetailSerializer}, examples=[BRIEF_EXAMPLE])
class BriefListCreateApi(WorkspaceListApi):
    read_scope, write_scope = "briefs:read", "briefs:write"
    serializer_class = BriefListSerializer
    filterset_class = BriefFilter

    def rows(self, workspace: Workspace):
        return brief_list(workspace=workspace)

    def post(self, request: Request) -> Response:
        workspace = request_workspace(request, CAN_SUBMIT_BRIEFS)
        fields = BriefCreateSerializer(data=request.data, context={"workspace": workspace})
        fields.is_valid(raise_exception=True)
        brief = brief_create(workspace=workspace, created_by=request.user, origin=Origin.API,
                             submit=True, **fields.validated_data)
        detail = brief_detail(workspace=workspace, brief_id=brief.pk)
        return Response(BriefDetailSerializer(detail).data, status=status.HTTP_201_CREATED)


@extend_schema(methods=["GET"], responses=BriefDetailSerializer)
class BriefDetailApi(ApiBase, APIView):
    read_scope = "briefs:read"

    def get(self, request: Request, brief_id: int) -> Response:
        workspace = request_workspace(request, CAN_VIEW)
        return Response(BriefDetailSerializer(brief_detail(workspace=workspace,
                                                           brief_id=brief_id)).data)


@extend_schema(methods=["POST"], request=None, responses=BriefDetailSerializer)
class BriefActionApi(ApiBase, APIView):
    """POST with no body: one service moves the brief; answers the brief as it now stands."""

    write_scope = "briefs:write"
    service: Callable[..., ContentBrief]

    def post(self, request: Request, brief_id: int) -> Response:
        workspace = request_workspace(request, CAN_SUBMIT_BRIEFS)
        self.service(brief=brief_get(workspace=workspace, brief_id=brief_id), actor=request.user)
        return Response(BriefDetailSerializer(brief_detail(workspace=workspace,
                                                           brief_id=brief_id)).data)


class BriefCancelApi(BriefActionApi):
    """Cancel a brief not yet approved, and its running job."""

    service = staticmethod(brief_cancel)


class BriefSubmitApi(BriefActionApi):
    """draft → queued, with a generation job."""

    service = staticmethod(brief_submit)


class BriefRegenerateApi(BriefActionApi):
    """failed → queued (retry), with a new job."""

    service = staticmethod(brief_regenerate)


@extend_schema(methods=["POST"],
    request={"application/json": BriefCreateSerializer(many=True),
             "text/csv": {"type": "string"},
             "multipart/form-data": {"type": "object", "properties": {
                 "file": {"type": "string", "format": "binary"}}}},
    responses={200: ImportReportSerializer},
)
class BriefImportApi(ApiBase, APIView):
    """Many briefs at once from a JSON list or a CSV file; each row is created or refused alone."""

    write_scope = "briefs:write"
    parser_classes = [CheckedJSONParser, CsvParser, MultiPartParser]

    def post(self, request: Request) -> Response:
        workspace = request_workspace(request, CAN_SUBMIT_BRIEFS)
        report = briefs_import(workspace=workspace, data=request.data, actor=request.user)
        return Response(ImportReportSerializer(report).data)


@extend_schema(methods=["POST"], request=ContentTypeSerializer,
               responses={201: ContentTypeSerializer})
class ContentTypeListApi(WorkspaceRowCreate, WorkspaceListApi):
    read_scope, write_scope = "briefs:read", "catalog:write"
    serializer_class = ContentTypeSerializer
    filterset_fields = ["slug"]

    def rows(self, workspace: Workspace):
        return ContentType.objects.filter(workspace=workspace)

    def create(self, workspace: Workspace, fields: dict[str, Any]) -> ContentType:
        return content_type_create(workspace=workspace, actor=self.request.user, **fields)


class ContentTypeDetailApi(WorkspaceRowUpdate, WorkspaceDetailApi):
    read_scope, write_scope = "briefs:read", "catalog:write"
    serializer_class = ContentTypeSerializer

    def rows(self, workspace: Workspace):
        return ContentType.objects.filter(workspace=workspace)

    def update(self, row: ContentType, fields: dict[str, Any]) -> ContentType:
        return content_type_update(content_type=row, actor=self.request.user, **fields)


@extend_schema(methods=["POST"], request=StyleGuideSerializer,
               responses={201: StyleGuideSerializer})
class StyleGuideListApi(WorkspaceRowCreate, WorkspaceListApi):
    read_scope, write_scope = "briefs:read", "catalog:write"
    serializer_class = StyleGuideSerializer

    def rows(self, workspace: Workspace):
        return StyleGuide.objects.filter(workspace=workspace)

    def create(self, workspace: Workspace, fields: dict[str, Any]) -> StyleGuide:
        return style_guide_create(workspace=workspace, actor=self.request.user, **fields)


class StyleGuideDetailApi(WorkspaceRowUpdate, WorkspaceDetailApi):
    read_scope, write_scope = "briefs:read", "catalog:write"
    serializer_class = StyleGuideSerializer

    def rows(self, workspace: Workspace):
        return StyleGuide.objects.filter(workspace=workspace)

    def update(self, row: StyleGuide, fields: dict[str, Any]) -> StyleGuide:
        return style_guide_update(style_guide=row, actor=self.request.user, **fields)
