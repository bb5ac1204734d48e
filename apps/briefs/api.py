"""Briefs over REST: create (submitted at once), list, detail, cancel."""

from __future__ import annotations

from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.api_auth import ApiBase, request_workspace
from apps.accounts.roles import CAN_SUBMIT_BRIEFS, CAN_VIEW
from apps.briefs.models import Origin
from apps.briefs.selectors import brief_detail, brief_get, brief_list
from apps.briefs.serializers import (
    BriefCreateSerializer,
    BriefDetailSerializer,
    BriefFilterSerializer,
    BriefListSerializer,
)
from apps.briefs.services import brief_cancel, brief_create


class BriefListCreateApi(ApiBase, GenericAPIView):
    read_scope, write_scope = "briefs:read", "briefs:write"

    def get(self, request: Request) -> Response:
        workspace = request_workspace(request, CAN_VIEW)
        filters = BriefFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        page = self.paginate_queryset(brief_list(workspace=workspace, **filters.validated_data))
        return self.get_paginated_response(BriefListSerializer(page, many=True).data)

    def post(self, request: Request) -> Response:
        workspace = request_workspace(request, CAN_SUBMIT_BRIEFS)
        fields = BriefCreateSerializer(data=request.data, context={"workspace": workspace})
        fields.is_valid(raise_exception=True)
        brief = brief_create(workspace=workspace, created_by=request.user, origin=Origin.API,
                             submit=True, **fields.validated_data)
        detail = brief_detail(workspace=workspace, brief_id=brief.pk)
        return Response(BriefDetailSerializer(detail).data, status=status.HTTP_201_CREATED)


class BriefDetailApi(ApiBase, APIView):
    read_scope = "briefs:read"

    def get(self, request: Request, brief_id: int) -> Response:
        workspace = request_workspace(request, CAN_VIEW)
        return Response(BriefDetailSerializer(brief_detail(workspace=workspace,
                                                           brief_id=brief_id)).data)


class BriefCancelApi(ApiBase, APIView):
    write_scope = "briefs:write"

    def post(self, request: Request, brief_id: int) -> Response:
        workspace = request_workspace(request, CAN_SUBMIT_BRIEFS)
        brief_cancel(brief=brief_get(workspace=workspace, brief_id=brief_id), actor=request.user)
        return Response(BriefDetailSerializer(brief_detail(workspace=workspace,
                                                           brief_id=brief_id)).data)
