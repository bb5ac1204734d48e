"""Scoring a job's drafts: one embedding pass, then plain metric functions."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from workers.evaluation import metrics
from workers.evaluation.embeddings import embed, model_name
from workers.evaluation.types import DraftScore, ScoringInput

# Relevance decides most: an off-topic draft is unusable, a draft of the wrong length
# is an edit away. For all-MiniLM-L6-v2 an on-topic draft scores ~0.5-0.8 relevance
# and an off-topic one ~0.0-0.2, so 0.7 : 0.3 keeps a perfect-length off-topic draft
# (<= 0.44) below an on-topic one at half or double length (>= 0.5).
RELEVANCE_WEIGHT = 0.7
LENGTH_FIT_WEIGHT = 0.3


def score(relevance: float, length_fit: float) -> float:
    """0.7 * max(relevance, 0) + 0.3 * length_fit, in [0, 1]; higher ranks first.

    Negative relevance (opposed meaning) is as useless as none, so it counts as 0.
    """
    return RELEVANCE_WEIGHT * max(relevance, 0.0) + LENGTH_FIT_WEIGHT * length_fit


def score_drafts(inputs: Sequence[ScoringInput], model_dir: str | Path) -> list[DraftScore]:
    """Scores for `inputs`, in order; briefs and drafts are embedded in one batched pass."""
    texts = [item.brief_text for item in inputs] + [item.draft_text for item in inputs]
    vectors = embed(texts, model_dir)
    briefs, drafts = vectors[: len(inputs)], vectors[len(inputs):]
    name = model_name(model_dir)
    scores = []
    for item, brief_vector, draft_vector in zip(inputs, briefs, drafts, strict=True):
        tokens = metrics.words(item.draft_text)
        relevance = metrics.relevance(brief_vector, draft_vector)
        length_fit = metrics.length_fit(len(tokens), item.target_words)
        scores.append(DraftScore(
            draft_id=item.draft_id,
            relevance=relevance,
            length_fit=length_fit,
            score=score(relevance, length_fit),
            embedding_model=name,
            metrics={
                "word_count": len(tokens),
                "target_words": item.target_words,
                "sentence_count": metrics.sentence_count(item.draft_text),
                "distinct_words": len({t.lower() for t in tokens}),
                "repetition": round(metrics.repetition(tokens), 4),
            },
        ))
    return scores
