"""A workspace's members over REST, for its admins: list, add, change role, remove."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.api_auth import WorkspaceDetailApi, WorkspaceListApi, request_workspace
from apps.accounts.models import Membership, Role
from apps.accounts.roles import CAN_GOVERN
from apps.accounts.services import member_invite, membership_grant, membership_remove


class MemberSerializer(serializers.ModelSerializer[Membership]):
    username = serializers.CharField(source="user.username", read_only=True)
    email = serializers.CharField(source="user.email", read_only=True)

    class Meta:
        model = Membership
        fields = ("id", "username", "email", "role", "created_at")
        read_only_fields = ("id", "created_at")


class MemberAddSerializer(serializers.Serializer[Any]):
    """A user who does not exist yet is created without a password and sent an invitation
    to `email` (required for them) with a link to set one."""

    username = serializers.RegexField(r"^[\w.@+-]+\Z", max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)
    email = serializers.EmailField(required=False, default="")


class MemberRoleSerializer(serializers.Serializer[Any]):
    role = serializers.ChoiceField(choices=Role.choices)


class MemberListApi(WorkspaceListApi):
    read_scope = write_scope = "members:write"
    roles = CAN_GOVERN
    queryset = Membership.objects.select_related("user")
    serializer_class = MemberSerializer
    filterset_fields = ["role"]

    @extend_schema(request=MemberAddSerializer, responses={201: MemberSerializer})
    def post(self, request: Request) -> Response:
        workspace = request_workspace(request, CAN_GOVERN)
        fields = MemberAddSerializer(data=request.data)
        fields.is_valid(raise_exception=True)
        _, membership, _ = member_invite(workspace=workspace, actor=request.user,
                                         site_url=request.build_absolute_uri("/"),
                                         **fields.validated_data)
        return Response(MemberSerializer(membership).data, status=status.HTTP_201_CREATED)


class MemberDetailApi(WorkspaceDetailApi):
    read_scope = write_scope = "members:write"
    roles = CAN_GOVERN
    queryset = Membership.objects.select_related("user")
    serializer_class = MemberSerializer

    @extend_schema(request=MemberRoleSerializer, responses={200: MemberSerializer})
    def patch(self, request: Request, pk: int) -> Response:
        membership = self.get_object()
        fields = MemberRoleSerializer(data=request.data)
        fields.is_valid(raise_exception=True)
        changed = membership_grant(user=membership.user, workspace=membership.workspace,
                                   role=fields.validated_data["role"], actor=request.user)
        return Response(MemberSerializer(changed).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        membership_remove(membership=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
