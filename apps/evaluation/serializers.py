"""The API's shapes of a draft with its evaluation and newest revision, and of an evaluation."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.evaluation.models import Evaluation
from apps.generation.models import Draft
from apps.reviews.serializers import RevisionSerializer


class DraftSerializer(serializers.ModelSerializer):
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
        # Prefetched newest first by brief_detail.
        revisions = draft.revisions_newest_first  # type: ignore[attr-defined]  # Prefetch(to_attr=)
        return RevisionSerializer(revisions[0]).data if revisions else None


class EvaluationSerializer(serializers.ModelSerializer):
    brief_id = serializers.IntegerField(source="draft.brief_id")
    job_id = serializers.IntegerField(source="draft.job_id")
    variant = serializers.IntegerField(source="draft.variant")

    class Meta:
        model = Evaluation
        fields = ["id", "draft_id", "brief_id", "job_id", "variant", "score", "relevance",
                  "length_fit", "metrics", "embedding_model", "created_at"]
