"""A workspace's API keys over REST, for its admins: list, create (the key shown once), revoke."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.api_auth import WorkspaceDetailApi, WorkspaceListApi, request_workspace
from apps.accounts.roles import CAN_GOVERN
from apps.apikeys.models import ApiKey, Scope
from apps.apikeys.services import apikey_create_for_username, apikey_revoke
from apps.core.api import ApiBase, row_found

KEY_FIELDS: tuple[str, ...] = ("id", "name", "prefix", "username", "scopes", "last_used_at",
                               "revoked_at", "created_at")


class ApiKeySerializer(serializers.ModelSerializer[ApiKey]):
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = ApiKey
        fields = KEY_FIELDS
        read_only_fields = KEY_FIELDS


class ApiKeyCreateSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=120)
    username = serializers.CharField(max_length=150, help_text="a member of the workspace")
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=Scope.choices),
                                   allow_empty=False, max_length=len(Scope.values))


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(read_only=True, help_text="shown once, never again")

    class Meta(ApiKeySerializer.Meta):
        fields = (*KEY_FIELDS, "key")
        read_only_fields = (*KEY_FIELDS, "key")


class ApiKeyListApi(WorkspaceListApi):
    read_scope = write_scope = "members:write"
    roles = CAN_GOVERN
    queryset = ApiKey.objects.select_related("user")
    serializer_class = ApiKeySerializer

    @extend_schema(request=ApiKeyCreateSerializer, responses={201: ApiKeyCreatedSerializer})
    def post(self, request: Request) -> Response:
        workspace = request_workspace(request, CAN_GOVERN)
        fields = ApiKeyCreateSerializer(data=request.data)
        fields.is_valid(raise_exception=True)
        key, plaintext = apikey_create_for_username(workspace=workspace, actor=request.user,
                                                    **fields.validated_data)
        key.key = plaintext  # type: ignore[attr-defined]  # answered once, never stored
        return Response(ApiKeyCreatedSerializer(key).data, status=status.HTTP_201_CREATED)


class ApiKeyDetailApi(WorkspaceDetailApi):
    read_scope = "members:write"
    roles = CAN_GOVERN
    queryset = ApiKey.objects.select_related("user")
    serializer_class = ApiKeySerializer


class ApiKeyRevokeApi(ApiBase, APIView):
    """Revoke an API key at once: it is refused from its next request on. Revoking twice
    changes nothing."""

    write_scope = "members:write"

    @extend_schema(request=None, responses={200: ApiKeySerializer})
    def post(self, request: Request, pk: int) -> Response:
        workspace = request_workspace(request, CAN_GOVERN)
        key = row_found(ApiKey.objects.filter(workspace=workspace).select_related("user"), pk,
                        "API key")
        return Response(ApiKeySerializer(apikey_revoke(key=key, actor=request.user)).data)
