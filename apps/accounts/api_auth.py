"""Which workspace an API request acts in, who may call, and the workspace's rows as lists,
details, creates and updates (on `apps.core.api`'s base)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar, cast

from django.db import models
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.plumbing import get_lib_doc_excludes
from rest_framework import filters, generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.roles import CAN_VIEW, roles_allowed
from apps.accounts.selectors import workspace_require
from apps.core.api import ApiBase, IdCursorPagination
from apps.core.models import Workspace
from apps.core.serializers import ID_MAX, WorkspaceScopedSerializer

WORKSPACE_HEADER = "X-Workspace"


def workspace_id_parse(raw: object) -> int | None:
    """None when absent; the id when it is one; else ValueError."""
    if raw in (None, ""):
        return None
    value = int(str(raw))
    if not 0 < value <= ID_MAX:
        raise ValueError(f"{raw!r} is not an id")
    return value


def request_workspace_id(request: Request) -> int | None:
    """A credential's own workspace (an API key is bound to one); else the `X-Workspace`
    header, else the session's current workspace, else None (first membership)."""
    bound = getattr(request.auth, "workspace_id", None)
    if bound is not None:
        return int(bound)
    raw = request.headers.get(WORKSPACE_HEADER) or request.session.get("workspace_id")
    try:
        return workspace_id_parse(raw)
    except ValueError:
        raise ValidationError({WORKSPACE_HEADER: ["A workspace id is a whole number."]}) from None


def request_workspace(request: Request, roles: Iterable[str]) -> Workspace:
    """The caller's current workspace, if they hold one of `roles` there (else 403)."""
    return workspace_require(request.user, roles, request_workspace_id(request))


class WorkspaceRowsApi(ApiBase, generics.GenericAPIView[Any]):
    """Rows of the caller's workspace only: the `queryset`'s rows whose `workspace` it is,
    or what `rows(workspace)` gives where they reach it another way; `roles` decides who
    may read."""

    roles: Iterable[str] = CAN_VIEW
    queryset: QuerySet[Any] | None = None

    def rows(self, workspace: Workspace) -> QuerySet[Any]:
        if self.queryset is None:
            raise NotImplementedError(f"{type(self).__name__} names no queryset and no rows.")
        return self.queryset.filter(workspace=workspace)

    def get_queryset(self) -> QuerySet[Any]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator's dry run
            return self.rows(Workspace(pk=0)).none()
        return self.rows(request_workspace(self.request, self.roles))


class WorkspaceListApi(WorkspaceRowsApi, generics.ListAPIView[Any]):
    """A list of one workspace's rows, filtered (django-filter), ordered, cursor-paginated."""

    pagination_class = IdCursorPagination
    filter_backends = [DjangoFilterBackend, filters.OrderingFilter]
    ordering_fields = ["id", "created_at"]


class WorkspaceDetailApi(WorkspaceRowsApi, generics.RetrieveAPIView[Any]):
    """One row of the caller's workspace; another workspace's row is a 404."""

    lookup_url_kwarg = "pk"


def roles_writing(serializer_class: type[serializers.BaseSerializer[Any]], action: str
                  ) -> tuple[str, ...]:
    """Who may `action` ("add", "change") the serializer's model: the same per-model table
    the admin checks (apps.accounts.roles), so governance rows are for admins everywhere."""
    if not issubclass(serializer_class, serializers.ModelSerializer):
        raise TypeError(f"{serializer_class.__name__} names no model to write.")
    # The stub types Meta.model with the class's type variable, which a ClassVar cannot hold.
    meta = cast(type[models.Model], serializer_class.Meta.model)._meta
    return roles_allowed(meta.app_label, meta.model_name or "", action)


class WorkspaceRowCreate(generics.GenericAPIView[Any]):
    """POST to a list: the roles that may add the model's rows create one of their
    workspace through a service."""

    write_roles: Iterable[str] | None = None  # who may, where not the model's adders
    creates_rows: ClassVar[bool] = True

    def create(self, workspace: Workspace, fields: dict[str, Any]) -> Any:
        raise NotImplementedError

    def post(self, request: Request) -> Response:
        serializer_class = self.get_serializer_class()
        roles = self.write_roles or roles_writing(serializer_class, "add")
        workspace = request_workspace(request, roles)
        fields = serializer_class(data=request.data, context={"workspace": workspace})
        fields.is_valid(raise_exception=True)
        row = self.create(workspace, fields.validated_data)
        return Response(serializer_class(row).data, status=status.HTTP_201_CREATED)


class WorkspaceRowUpdate(generics.GenericAPIView[Any]):
    """PATCH a row: the roles that may change the model's rows (or the view's own
    `write_roles`) change some fields through a service; another workspace's row is a 404."""

    write_roles: Iterable[str] | None = None

    def update(self, row: Any, fields: dict[str, Any]) -> Any:
        raise NotImplementedError

    def patch(self, request: Request, pk: int) -> Response:
        serializer_class = self.get_serializer_class()
        roles = self.write_roles or roles_writing(serializer_class, "change")
        workspace = request_workspace(request, roles)
        row = self.get_object()
        fields = serializer_class(row, data=request.data, partial=True,
                                  context={"workspace": workspace})
        fields.is_valid(raise_exception=True)
        return Response(serializer_class(self.update(row, fields.validated_data)).data)


def schema_doc_stops() -> list[type]:
    """Where the OpenAPI schema stops looking for a description in a view's or serializer's
    bases: at the library's and at the platform's own, whose docstrings are for the code's
    readers (SPECTACULAR_SETTINGS["GET_LIB_DOC_EXCLUDES"])."""
    return [*get_lib_doc_excludes(), ApiBase, WorkspaceRowsApi, WorkspaceListApi,
            WorkspaceDetailApi, WorkspaceRowCreate, WorkspaceRowUpdate, WorkspaceScopedSerializer]
