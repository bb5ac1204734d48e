"""The API's shapes of a draft with its evaluation and newest revision, of an evaluation, and of
the quality gate's score card on a job."""

from __future__ import annotations

from typing import Any, cast

from drf_spectacular.utils import extend_schema
from rest_framework import serializers

from apps.evaluation.models import Evaluation, GateDecision
from apps.generation.models import Draft
from apps.reviews.serializers import RevisionSerializer


class DraftSerializer(serializers.ModelSerializer[Draft]):
    evaluation = serializers.SerializerMethodField()
    latest_revision = serializers.SerializerMethodField()

    class Meta:
        model = Draft
        fields = [
            "id", "job_id", "variant", "text", "model_name", "model_revision", "seed",
            "parameters", "prompt_tokens", "completion_tokens", "created_at", "evaluation",
            "latest_revision",
        ]

    def get_evaluation(self, draft: Draft) -> dict[str, Any] | None:
        evaluation = getattr(draft, "evaluation", None)  # absent until evaluated
        if evaluation is None:
            return None
        return {
            "score": evaluation.score,
            "relevance": evaluation.relevance,
            "length_fit": evaluation.length_fit,
            "metrics": evaluation.metrics,
            "embedding_model": evaluation.embedding_model,
        }

    def get_latest_revision(self, draft: Draft) -> dict[str, Any] | None:
        # Prefetched newest first (selectors.drafts_scored, workflow brief_detail).
        revisions = draft.revisions_newest_first  # type: ignore[attr-defined]  # Prefetch(to_attr=)
        return RevisionSerializer(revisions[0]).data if revisions else None


class EvaluationSerializer(serializers.ModelSerializer[Evaluation]):
    brief_id = serializers.IntegerField(source="draft.brief_id")
    job_id = serializers.IntegerField(source="draft.job_id")
    variant = serializers.IntegerField(source="draft.variant")

    class Meta:
        model = Evaluation
        fields = ["id", "draft_id", "brief_id", "job_id", "variant", "score", "relevance",
                  "length_fit", "metrics", "embedding_model", "created_at"]


class VariantScoreSerializer(serializers.ModelSerializer[Evaluation]):
    draft_id = serializers.IntegerField()
    variant = serializers.IntegerField(source="draft.variant")

    class Meta:
        model = Evaluation
        fields = ("draft_id", "variant", "rank", "score", "passed", "relevance", "length_fit",
                  "findings", "metrics", "embedding_model")


class ScoreCardSerializer(serializers.ModelSerializer[GateDecision]):
    variants = serializers.SerializerMethodField()

    class Meta:
        model = GateDecision
        fields = ("job_id", "decision", "passed", "best_draft_id", "reasons", "risks",
                  "required_group", "audit_sampled", "regeneration", "created_at", "variants")

    @extend_schema(responses=VariantScoreSerializer(many=True))
    def get_variants(self, card: GateDecision) -> list[dict[str, Any]]:
        evaluations = [d.evaluation for d in card.job.drafts.all() if hasattr(d, "evaluation")]
        evaluations.sort(key=lambda e: (e.rank or 0, -e.score))
        # many=True builds a ListSerializer, whose data is a list; the stub types it as one row.
        return cast(list[dict[str, Any]], VariantScoreSerializer(evaluations, many=True).data)
