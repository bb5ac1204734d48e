"""Content types and style guides over REST: list, read, create, update. (Briefs themselves
are served by apps/workflow/api.py, their bulk import by apps/integrations/api.py.)"""

from __future__ import annotations

from typing import Any

from apps.accounts.api_auth import (
    WorkspaceDetailApi,
    WorkspaceListApi,
    WorkspaceRowCreate,
    WorkspaceRowUpdate,
)
from apps.briefs.models import ContentType, StyleGuide
from apps.briefs.serializers import (
    ContentTypeSerializer,
    StyleGuideSerializer,
)
from apps.briefs.services import (
    content_type_create,
    content_type_update,
    style_guide_create,
    style_guide_update,
)
from apps.core.models import Workspace


class ContentTypeListApi(WorkspaceRowCreate, WorkspaceListApi):
    read_scope, write_scope = "briefs:read", "catalog:write"
    queryset = ContentType.objects.all()
    serializer_class = ContentTypeSerializer
    filterset_fields = ["slug"]

    def create(self, workspace: Workspace, fields: dict[str, Any]) -> ContentType:
        return content_type_create(workspace=workspace, actor=self.request.user, **fields)


class ContentTypeDetailApi(WorkspaceRowUpdate, WorkspaceDetailApi):
    read_scope, write_scope = "briefs:read", "catalog:write"
    queryset = ContentType.objects.all()
    serializer_class = ContentTypeSerializer

    def update(self, row: ContentType, fields: dict[str, Any]) -> ContentType:
        return content_type_update(content_type=row, actor=self.request.user, **fields)


class StyleGuideListApi(WorkspaceRowCreate, WorkspaceListApi):
    read_scope, write_scope = "briefs:read", "catalog:write"
    queryset = StyleGuide.objects.all()
    serializer_class = StyleGuideSerializer

    def create(self, workspace: Workspace, fields: dict[str, Any]) -> StyleGuide:
        return style_guide_create(workspace=workspace, actor=self.request.user, **fields)


class StyleGuideDetailApi(WorkspaceRowUpdate, WorkspaceDetailApi):
    read_scope, write_scope = "briefs:read", "catalog:write"
    queryset = StyleGuide.objects.all()
    serializer_class = StyleGuideSerializer

    def update(self, row: StyleGuide, fields: dict[str, Any]) -> StyleGuide:
        return style_guide_update(style_guide=row, actor=self.request.user, **fields)
