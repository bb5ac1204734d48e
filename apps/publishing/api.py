"""Publications and publishing targets over REST: lists and details, and the editor's
controls (publish a brief to more targets, retry, reschedule, cancel, withdraw, preview,
test connection).

Each control is one service or selector call. An action the publication's state, its
target's kind or the target itself refuses is a 409 with the reason.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
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
from apps.accounts.roles import CAN_GOVERN, CAN_SUBMIT_BRIEFS, CAN_VIEW
from apps.core.api import ApiBase, IdFilter, row_found
from apps.core.api_time import PublishTimeSerializer
from apps.core.errors import DomainError
from apps.core.models import Workspace
from apps.publishing.connectors import PublishError
from apps.publishing.health import target_test_connection
from apps.publishing.models import Publication, PublicationState, PublishingTarget
from apps.publishing.outcomes import publication_withdraw
from apps.publishing.selectors import publication_list, publication_preview
from apps.publishing.serializers import PublicationSerializer, TargetSerializer
from apps.publishing.services import (
    publication_cancel,
    publication_reschedule,
    publication_retry,
)
from apps.publishing.targets import target_create, target_update


class Refused(DomainError):
    """The publication's state, its target's kind or the target's own answer refuses
    the action; the message says which."""

    status_code = 409


class PublicationFilter(django_filters.FilterSet):
    brief = IdFilter(field_name="brief_id")
    state = django_filters.ChoiceFilter(choices=PublicationState.choices)
    target = IdFilter(field_name="target_id")


class PublicationListApi(WorkspaceListApi):
    read_scope = "briefs:read"
    serializer_class = PublicationSerializer
    filterset_class = PublicationFilter

    def rows(self, workspace: Workspace) -> QuerySet[Publication]:
        return publication_list(workspace=workspace)


class PublicationDetailApi(WorkspaceDetailApi):
    read_scope = "briefs:read"
    serializer_class = PublicationSerializer

    def rows(self, workspace: Workspace) -> QuerySet[Publication]:
        return publication_list(workspace=workspace)


class PublicationActionApi(ApiBase, APIView):
    """An editor's action on one publication of their workspace (another workspace's is a
    404): one service call; answers with the publication as it now is."""

    write_scope = "publications:write"
    fields_class: type[serializers.Serializer[Any]] | None = None

    def act(self, publication: Publication, actor: Any, **fields: Any) -> None:
        raise NotImplementedError

    def post(self, request: Request, pk: int) -> Response:
        workspace = request_workspace(request, CAN_SUBMIT_BRIEFS)
        publication = row_found(publication_list(workspace=workspace), pk, "Publication")
        fields: dict[str, Any] = {}
        if self.fields_class is not None:
            given = self.fields_class(data=request.data)
            given.is_valid(raise_exception=True)
            fields = given.validated_data
        self.act(publication, request.user, **fields)
        return Response(PublicationSerializer(publication_list(workspace=workspace).get(pk=pk)).data)


@extend_schema(methods=["POST"], request=None, responses=PublicationSerializer)
class PublicationRetryApi(PublicationActionApi):
    """failed → scheduled now: the editor's manual retry."""

    def act(self, publication: Publication, actor: Any, **fields: Any) -> None:
        publication_retry(publication=publication, actor=actor)


class RescheduleSerializer(PublishTimeSerializer):
    """A scheduled publication's new time."""

    # A class of its own so the schema names it apart from the other publish times.


@extend_schema(methods=["POST"], request=RescheduleSerializer, responses=PublicationSerializer,
               examples=[OpenApiExample("Local time", request_only=True, value={
                   "publish_at": "2030-05-01T09:00:00", "timezone": "Europe/Paris"})])
class PublicationRescheduleApi(PublicationActionApi):
    """A scheduled publication's time moved; its queued task then finds it not due."""

    fields_class = RescheduleSerializer

    def act(self, publication: Publication, actor: Any, **fields: Any) -> None:
        publication_reschedule(publication=publication, actor=actor, **fields)


@extend_schema(methods=["POST"], request=None, responses=PublicationSerializer)
class PublicationCancelApi(PublicationActionApi):
    """pending, scheduled or failed → cancelled: never published, whatever task is queued."""

    def act(self, publication: Publication, actor: Any, **fields: Any) -> None:
        publication_cancel(publication=publication, actor=actor)


@extend_schema(methods=["POST"], request=None, responses=PublicationSerializer)
class PublicationWithdrawApi(PublicationActionApi):
    """published → withdrawn once the target took the post down.

    Synchronous, like the admin's action: one bounded request per post (5 s to
    connect, 30 s to answer), and the caller reads the target's answer at once.
    """

    def act(self, publication: Publication, actor: Any, **fields: Any) -> None:
        refused = publication_withdraw(publication=publication, actor=actor)
        if refused:
            raise Refused(refused)


class PreviewSerializer(serializers.Serializer[Any]):
    format = serializers.ChoiceField(choices=["html", "text", "markdown", "json"])
    title = serializers.CharField()
    parts = serializers.ListField(child=serializers.CharField(),
                                  help_text="one per post (a social thread), else one")
    warnings = serializers.ListField(child=serializers.CharField())


@extend_schema(responses=PreviewSerializer)
class PublicationPreviewApi(ApiBase, APIView):
    """The publication's revision as its target receives it (no network)."""

    read_scope = "briefs:read"

    def get(self, request: Request, pk: int) -> Response:
        workspace = request_workspace(request, CAN_VIEW)
        publication = row_found(
            publication_list(workspace=workspace).select_related("brief", "revision"), pk,
            "Publication")
        brief = publication.brief
        try:
            preview = publication_preview(target=publication.target, title=brief.title,
                                          text=publication.revision.text,
                                          keywords=brief.keywords, language=brief.language)
        except PublishError as exc:  # the target's configuration cannot format it
            raise Refused(exc.message) from exc
        return Response(PreviewSerializer(preview).data)


class TargetListCreateApi(WorkspaceRowCreate, WorkspaceListApi):
    read_scope, write_scope = "briefs:read", "integrations:write"
    queryset = PublishingTarget.objects.all()
    serializer_class = TargetSerializer
    filterset_fields = ["kind", "enabled"]

    def create(self, workspace: Workspace, fields: dict[str, Any]) -> PublishingTarget:
        return target_create(workspace=workspace, actor=self.request.user, **fields)


@extend_schema(methods=["PATCH"], request=TargetSerializer, responses=TargetSerializer,
               examples=[OpenApiExample("Replace a rejected token", request_only=True,
                                        value={"secret": "new-access-token"}),
                         OpenApiExample("Disable", request_only=True, value={"enabled": False})])
class TargetDetailApi(WorkspaceRowUpdate, WorkspaceDetailApi):
    """A target with its health. Workspace admins PATCH its settings, `enabled` and its
    secret (write-only: stored encrypted, never returned); a new secret lifts a pause for
    rejected credentials."""

    read_scope, write_scope = "briefs:read", "integrations:write"
    queryset = PublishingTarget.objects.all()
    serializer_class = TargetSerializer

    def update(self, row: PublishingTarget, fields: dict[str, Any]) -> PublishingTarget:
        fields.pop("kind", None)  # the serializer refused any other than the target's own
        return target_update(target=row, actor=self.request.user, **fields)


class ConnectionCheckSerializer(serializers.Serializer[Any]):
    ok = serializers.BooleanField()
    message = serializers.CharField()


@extend_schema(methods=["POST"], request=None, responses=ConnectionCheckSerializer)
class TargetTestConnectionApi(ApiBase, APIView):
    """The target's connector checks its config and credentials with one request.

    Refused credentials pause the target (as a refused post does) until its
    secret is replaced; the answer is 200 either way, `ok` says which.
    """

    write_scope = "integrations:write"

    def post(self, request: Request, pk: int) -> Response:
        workspace = request_workspace(request, CAN_GOVERN)
        target = row_found(PublishingTarget.objects.filter(workspace=workspace), pk, "Target")
        ok, message = target_test_connection(target=target)
        return Response(ConnectionCheckSerializer({"ok": ok, "message": message}).data)
