"""Scoring drafts: one batched embedding pass, then plain metric functions per draft and per job."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from workers.evaluation import diversity, grounding, metrics, novelty, references, safety
from workers.evaluation.embeddings import Vector, embed, model_name
from workers.evaluation.types import DraftScore, PublishedPiece, ScoringInput

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


class _Embeddings:
    """Collects every text a batch needs, embeds them in one call, hands vectors back by text."""

    def __init__(self) -> None:
        self._texts: dict[str, None] = {}
        self._vectors: dict[str, Vector] = {}

    def want(self, texts: Sequence[str]) -> None:
        self._texts.update(dict.fromkeys(texts))

    def run(self, model_dir: str | Path) -> None:
        texts = list(self._texts)
        self._vectors = dict(zip(texts, embed(texts, model_dir), strict=True))

    def __getitem__(self, text: str) -> Vector:
        return self._vectors[text]


def score_drafts(
    inputs: Sequence[ScoringInput],
    model_dir: str | Path,
    published: Sequence[PublishedPiece] = (),
) -> list[DraftScore]:
    """Scores for `inputs`, in order; every text and sentence is embedded in one batched pass.

    `published` are the workspace's published pieces a draft must not duplicate.
    """
    draft_sentences = {item.draft_id: grounding.sentences(item.draft_text)
                       for item in inputs if item.source_material.strip()}
    source_sentences = {item.source_material: grounding.sentences(item.source_material)
                        for item in inputs if item.source_material.strip()}
    vectors = _Embeddings()
    vectors.want([item.brief_text for item in inputs] + [item.draft_text for item in inputs])
    for sentences in [*draft_sentences.values(), *source_sentences.values()]:
        vectors.want(sentences)
    vectors.run(model_dir)

    by_job: dict[int, list[ScoringInput]] = defaultdict(list)
    for item in inputs:
        by_job[item.job_id].append(item)
    job_diversity, sibling_similarity = {}, {}
    for job_id, items in by_job.items():
        job_vectors = [vectors[i.draft_text] for i in items]
        job_diversity[job_id] = diversity.diversity([i.draft_text for i in items], job_vectors)
        similarities = diversity.similarity_matrix(job_vectors)
        np.fill_diagonal(similarities, -np.inf)
        for row, item in zip(similarities, items, strict=True):
            # how close the nearest sibling variant is: 1.0 means a reviewer sees it twice
            sibling_similarity[item.draft_id] = float(row.max()) if len(items) > 1 else None

    name = model_name(model_dir)
    scores = []
    for item in inputs:
        draft_vector = vectors[item.draft_text]
        relevance = metrics.relevance(vectors[item.brief_text], draft_vector)
        tokens = metrics.words(item.draft_text)
        length_fit = metrics.length_fit(len(tokens), item.target_words)
        values = _text_metrics(item, tokens)
        if item.source_material.strip():
            sentences = draft_sentences[item.draft_id]
            sources = source_sentences[item.source_material]
            values.update(grounding.grounding(
                sentences, [vectors[s] for s in sentences], sources, [vectors[s] for s in sources],
            ))
        signature = novelty.signature(item.draft_text)
        nearest = novelty.nearest_published(draft_vector, signature, published)
        values.update({
            "duplicate_similarity": nearest.similarity,
            "duplicate_similarity_of": nearest.similarity_piece_id,
            "duplicate_overlap": nearest.overlap,
            "duplicate_overlap_of": nearest.overlap_piece_id,
            "variant_similarity": sibling_similarity[item.draft_id],
            "diversity": job_diversity[item.job_id],
        })
        scores.append(DraftScore(
            draft_id=item.draft_id, relevance=relevance, length_fit=length_fit,
            score=score(relevance, length_fit), embedding_model=name, metrics=values,
            embedding=draft_vector, signature=signature,
        ))
    return scores


def _text_metrics(item: ScoringInput, tokens: list[str]) -> dict[str, Any]:
    """Metrics that read the draft's text alone (no embeddings)."""
    text = item.draft_text
    ease, grade = metrics.readability(text)
    findings = safety.safety(text)
    return {
        "word_count": len(tokens),
        "target_words": item.target_words,
        "char_count": len(text),
        "sentence_count": metrics.sentence_count(text),
        "distinct_words": len({t.lower() for t in tokens}),
        "repetition": round(metrics.repetition(tokens), 4),
        "reading_ease": ease,
        "reading_grade": grade,
        "keyword_coverage": metrics.coverage(text, item.keywords),
        "keywords_missing": metrics.terms_missing(text, item.keywords),
        "required_coverage": metrics.coverage(text, item.required_terms),
        "required_terms_missing": metrics.terms_missing(text, item.required_terms),
        "banned_terms_found": metrics.terms_found(text, item.banned_terms),
        **findings,
        "pii": len(findings["emails"]) + len(findings["phone_numbers"])
        + len(findings["card_numbers"]),
        **references.reference_overlap(text, item.reference_texts),
    }


def fingerprint_texts(texts: Sequence[tuple[int, str]], model_dir: str | Path
                      ) -> list[PublishedPiece]:
    """Embedding and MinHash signature of each (piece id, text), embedded in one batch."""
    vectors = embed([text for _, text in texts], model_dir)
    return [PublishedPiece(piece_id=piece_id, embedding=vector, signature=novelty.signature(text))
            for (piece_id, text), vector in zip(texts, vectors, strict=True)]
