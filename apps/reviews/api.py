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
