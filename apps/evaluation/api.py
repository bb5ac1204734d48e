"""Evaluation over REST, read only (the pipeline writes these): drafts with their scores and
newest revision, evaluations, and the quality gate's score cards on a brief, newest first."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.api_auth import WorkspaceDetailApi, WorkspaceListApi, request_workspace
from apps.accounts.roles import CAN_VIEW
from apps.core.api import ApiBase, IdFilter
from apps.core.models import Workspace
from apps.evaluation.models import Evaluation
from apps.evaluation.selectors import drafts_scored, evaluations_of, score_cards
from apps.evaluation.serializers import DraftSerializer, EvaluationSerializer, ScoreCardSerializer
from apps.generation.models import Draft


class DraftFilter(django_filters.FilterSet):
    brief = IdFilter(field_name="brief_id")
    job = IdFilter(field_name="job_id")


class DraftListApi(WorkspaceListApi):
    read_scope = "briefs:read"
    serializer_class = DraftSerializer
    filterset_class = DraftFilter
    ordering_fields = ["id", "created_at", "variant"]

    def rows(self, workspace: Workspace) -> QuerySet[Draft]:
        return drafts_scored(workspace=workspace)


class DraftDetailApi(WorkspaceDetailApi):
    read_scope = "briefs:read"
    serializer_class = DraftSerializer

    def rows(self, workspace: Workspace) -> QuerySet[Draft]:
        return drafts_scored(workspace=workspace)


class EvaluationFilter(django_filters.FilterSet):
    brief = IdFilter(field_name="draft__brief_id")
    job = IdFilter(field_name="draft__job_id")
    min_score = django_filters.NumberFilter(field_name="score", lookup_expr="gte")


class EvaluationListApi(WorkspaceListApi):
    read_scope = "briefs:read"
    serializer_class = EvaluationSerializer
    filterset_class = EvaluationFilter
    ordering_fields = ["id", "created_at", "score"]

    def rows(self, workspace: Workspace) -> QuerySet[Evaluation]:
        return evaluations_of(workspace=workspace)


class EvaluationDetailApi(WorkspaceDetailApi):
    read_scope = "briefs:read"
    serializer_class = EvaluationSerializer

    def rows(self, workspace: Workspace) -> QuerySet[Evaluation]:
        return evaluations_of(workspace=workspace)


@extend_schema(methods=["GET"], responses=ScoreCardSerializer(many=True))
class BriefScoreCardsApi(ApiBase, APIView):
    """The brief's quality-gate decisions, newest first (one per generation round), each
    with its job's drafts and their scores."""

    read_scope = "briefs:read"

    def get(self, request: Request, brief_id: int) -> Response:
        workspace = request_workspace(request, CAN_VIEW)
        cards = score_cards(workspace=workspace, brief_id=brief_id)
        return Response(ScoreCardSerializer(cards, many=True).data)
