"""Review decisions over REST: approve (and schedule publication), reject, request changes.

Each answers with the brief as it now stands, so a client needs no second call.
"""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.api_auth import ApiBase, request_workspace
from apps.accounts.roles import CAN_REVIEW
from apps.briefs.selectors import brief_detail, brief_get
from apps.briefs.serializers import BriefDetailSerializer, IdField
from apps.core.models import Workspace
from apps.reviews.services import review_approve, review_reject, review_request_changes


class ApproveSerializer(serializers.Serializer):
    draft_id = IdField()
    comment = serializers.CharField(max_length=10_000, required=False, allow_blank=True)
    target_ids = serializers.ListField(
        child=IdField(), max_length=50, required=False,
        help_text="default: the workspace's auto-publish targets",
    )
    publish_at = serializers.DateTimeField(required=False, allow_null=True)


class RejectSerializer(serializers.Serializer):
    comment = serializers.CharField(max_length=10_000, required=False, allow_blank=True)


class RequestChangesSerializer(serializers.Serializer):
    feedback = serializers.CharField(max_length=10_000)


def _brief_response(workspace: Workspace, brief_id: int) -> Response:
    return Response(BriefDetailSerializer(brief_detail(workspace=workspace,
                                                       brief_id=brief_id)).data)


class BriefApproveApi(ApiBase, APIView):
    write_scope = "reviews:write"

    def post(self, request: Request, brief_id: int) -> Response:
        workspace = request_workspace(request, CAN_REVIEW)
        brief = brief_get(workspace=workspace, brief_id=brief_id)
        fields = ApproveSerializer(data=request.data)
        fields.is_valid(raise_exception=True)
        review_approve(brief=brief, reviewer=request.user, **fields.validated_data)
        return _brief_response(workspace, brief_id)


class BriefRejectApi(ApiBase, APIView):
    write_scope = "reviews:write"

    def post(self, request: Request, brief_id: int) -> Response:
        workspace = request_workspace(request, CAN_REVIEW)
        brief = brief_get(workspace=workspace, brief_id=brief_id)
        fields = RejectSerializer(data=request.data)
        fields.is_valid(raise_exception=True)
        review_reject(brief=brief, reviewer=request.user, **fields.validated_data)
        return _brief_response(workspace, brief_id)


class BriefRequestChangesApi(ApiBase, APIView):
    write_scope = "reviews:write"

    def post(self, request: Request, brief_id: int) -> Response:
        workspace = request_workspace(request, CAN_REVIEW)
        brief = brief_get(workspace=workspace, brief_id=brief_id)
        fields = RequestChangesSerializer(data=request.data)
        fields.is_valid(raise_exception=True)
        review_request_changes(brief=brief, reviewer=request.user, **fields.validated_data)
        return _brief_response(workspace, brief_id)
