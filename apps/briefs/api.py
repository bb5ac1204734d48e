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
