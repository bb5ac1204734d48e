"""Review decisions over REST: approve (and schedule publication), reject, request changes.

Each answers with the brief as it now stands, so a client needs no second call.
"""

from __future__ import annotations

from collections.abc import Callable

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.api_auth import ApiBase, IdFilter, WorkspaceListApi, request_workspace
from apps.accounts.roles import CAN_REVIEW
from apps.briefs.selectors import brief_detail, brief_get
from apps.core.models import Workspace
from apps.reviews.models import Decision, Review
from apps.reviews.serializers import (
    ApproveSerializer,
    RejectSerializer,
    RequestChangesSerializer,
    ReviewListSerializer,
)
from apps.reviews.services import review_approve, review_reject, review_request_changes
from apps.workflow.serializers import BriefDetailSerializer


def _brief_response(workspace: Workspace, brief_id: int) -> Response:
    return Response(BriefDetailSerializer(brief_detail(workspace=workspace,
                                                       brief_id=brief_id)).data)


class BriefDecisionApi(ApiBase, APIView):
    """A reviewer's decision on a brief: one service call; answers with the brief as it now is."""

    write_scope = "reviews:write"
    fields_class: type[serializers.Serializer]
    decide: Callable[..., object]

    def post(self, request: Request, brief_id: int) -> Response:
        workspace = request_workspace(request, CAN_REVIEW)
        brief = brief_get(workspace=workspace, brief_id=brief_id)
        fields = self.fields_class(data=request.data)
        fields.is_valid(raise_exception=True)
        type(self).decide(brief=brief, reviewer=request.user, **fields.validated_data)
        return _brief_response(workspace, brief_id)


@extend_schema(methods=["POST"], request=ApproveSerializer, responses=BriefDetailSerializer)
class BriefApproveApi(BriefDecisionApi):
    fields_class = ApproveSerializer
    decide = staticmethod(review_approve)


@extend_schema(methods=["POST"], request=RejectSerializer, responses=BriefDetailSerializer)
class BriefRejectApi(BriefDecisionApi):
    fields_class = RejectSerializer
    decide = staticmethod(review_reject)


@extend_schema(methods=["POST"], request=RequestChangesSerializer, responses=BriefDetailSerializer)
class BriefRequestChangesApi(BriefDecisionApi):
    fields_class = RequestChangesSerializer
    decide = staticmethod(review_request_changes)


class ReviewFilter(django_filters.FilterSet):
    brief = IdFilter(field_name="brief_id")
    decision = django_filters.ChoiceFilter(choices=Decision.choices)

    class Meta:
        model = Review
        fields = ["brief", "decision"]


class ReviewListApi(WorkspaceListApi):
    read_scope = "briefs:read"
    serializer_class = ReviewListSerializer
    filterset_class = ReviewFilter

    def rows(self, workspace: Workspace):
        return Review.objects.filter(brief__workspace=workspace).select_related("reviewer",
                                                                                 "revision")
