"""Score cards over REST (read only): the quality gate's decisions on a brief, newest first.

Mount in aigc_platform/api_urls.py:
    path("briefs/<int:brief_id>/scorecards/", BriefScoreCardsApi.as_view(),
         name="brief-scorecards"),
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.api_auth import ApiBase, request_workspace
from apps.accounts.roles import CAN_VIEW
from apps.evaluation.models import Evaluation, GateDecision
from apps.evaluation.selectors import score_cards


class VariantScoreSerializer(serializers.ModelSerializer):
    draft_id = serializers.IntegerField()
    variant = serializers.IntegerField(source="draft.variant")

    class Meta:
        model = Evaluation
        fields = ("draft_id", "variant", "rank", "score", "passed", "relevance", "length_fit",
                  "findings", "metrics", "embedding_model")


class ScoreCardSerializer(serializers.ModelSerializer):
    variants = serializers.SerializerMethodField()

    class Meta:
        model = GateDecision
        fields = ("job_id", "decision", "passed", "best_draft_id", "reasons", "risks",
                  "required_group", "audit_sampled", "regeneration", "created_at", "variants")

    @extend_schema(responses=VariantScoreSerializer(many=True))
    def get_variants(self, card: GateDecision) -> list[dict[str, Any]]:
        evaluations = [d.evaluation for d in card.job.drafts.all() if hasattr(d, "evaluation")]
        evaluations.sort(key=lambda e: (e.rank or 0, -e.score))
        return VariantScoreSerializer(evaluations, many=True).data


@extend_schema(methods=["GET"], responses=ScoreCardSerializer(many=True))
class BriefScoreCardsApi(ApiBase, APIView):
    read_scope = "briefs:read"

    def get(self, request: Request, brief_id: int) -> Response:
        workspace = request_workspace(request, CAN_VIEW)
        cards = score_cards(workspace=workspace, brief_id=brief_id)
        return Response(ScoreCardSerializer(cards, many=True).data)
