"""Scoring drafts: one batched embedding pass (for one job or several), then plain metric
functions per draft and per job."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from workers.evaluation import (
    checks,
    diversity,
    grounding,
    language,
    lexical,
    metrics,
    novelty,
    references,
    safety,
)
from workers.evaluation.embeddings import Vector, embed, model_covers, model_name
from workers.evaluation.types import (
    DraftScore,
    PublishedIndex,
    PublishedPiece,
    ScoringInput,
    ScoringJob,
)

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


def vector_space(model_dir: str | Path, language_tag: str) -> str:
    """The name of the vectors a text in this language is compared in: the embedding model's,
    or the lexical fallback where the model's card does not list the language."""
    code = language.language(language_tag).code
    return model_name(model_dir) if model_covers(model_dir, code) else lexical.NAME


def _vectors(texts: Sequence[str], space: str, model_dir: str | Path) -> list[Vector]:
    return lexical.embed(texts) if space == lexical.NAME else embed(texts, model_dir)


class _Embeddings:
    """Collects every text a batch needs per vector space, embeds each space in one call."""

    def __init__(self) -> None:
        self._texts: dict[str, dict[str, None]] = defaultdict(dict)
        self._vectors: dict[tuple[str, str], Vector] = {}

    def want(self, space: str, texts: Sequence[str]) -> None:
        self._texts[space].update(dict.fromkeys(texts))

    def run(self, model_dir: str | Path) -> None:
        for space, wanted in self._texts.items():
            texts = list(wanted)
            self._vectors.update({(space, text): vector for text, vector in
                                  zip(texts, _vectors(texts, space, model_dir), strict=True)})

    def get(self, space: str, text: str) -> Vector:
        return self._vectors[(space, text)]


def score_drafts(
    inputs: Sequence[ScoringInput],
    model_dir: str | Path,
    published: PublishedIndex | None = None,
) -> list[DraftScore]:
    """Scores for `inputs`, in order; every text and sentence is embedded in one batched pass
    per vector space (the model's, or the lexical fallback for languages it does not cover).

    `published` are the workspace's published pieces a draft must not duplicate, as
    fingerprinted in the vector space of the drafts' language.
    """
    (scores,) = score_jobs([ScoringJob(tuple(inputs), PublishedIndex() if published is None else published)],
                           model_dir)
    return scores


def score_jobs(jobs: Sequence[ScoringJob], model_dir: str | Path) -> list[list[DraftScore]]:
    """Each job's scores, in order, as `score_drafts` gives them for the job alone, with the
    texts of all the jobs embedded together: one batched pass per vector space."""
    prepared = [_JobTexts.of(job, model_dir) for job in jobs]
    vectors = _Embeddings()
    for texts in prepared:
        texts.want(vectors)
    vectors.run(model_dir)
    return [texts.scores(vectors) for texts in prepared]


@dataclass(frozen=True)
class _JobTexts:
    """One job's inputs with their languages, vector spaces and sentences, read once."""

    job: ScoringJob
    langs: dict[int, language.Language]
    spaces: dict[int, str]
    draft_sentences: dict[int, list[str]]
    source_sentences: dict[str, list[str]]

    @classmethod
    def of(cls, job: ScoringJob, model_dir: str | Path) -> _JobTexts:
        inputs = job.inputs
        return cls(
            job=job,
            langs={item.draft_id: language.language(item.language) for item in inputs},
            spaces={item.draft_id: vector_space(model_dir, item.language) for item in inputs},
            draft_sentences={item.draft_id: language.sentences(item.draft_text)
                             for item in inputs if item.source_material.strip()},
            source_sentences={item.source_material: language.sentences(item.source_material)
                              for item in inputs if item.source_material.strip()},
        )

    def want(self, vectors: _Embeddings) -> None:
        for item in self.job.inputs:
            space = self.spaces[item.draft_id]
            vectors.want(space, [item.brief_text, item.draft_text])
            if item.source_material.strip():
                vectors.want(space, self.draft_sentences[item.draft_id])
                vectors.want(space, self.source_sentences[item.source_material])

    def scores(self, vectors: _Embeddings) -> list[DraftScore]:
        inputs, langs, spaces = self.job.inputs, self.langs, self.spaces
        by_job: dict[int, list[ScoringInput]] = defaultdict(list)
        for item in inputs:
            by_job[item.job_id].append(item)
        job_diversity, sibling_similarity = {}, {}
        for job_id, items in by_job.items():
            job_vectors = [vectors.get(spaces[i.draft_id], i.draft_text) for i in items]
            job_diversity[job_id] = diversity.diversity([i.draft_text for i in items],
                                                        job_vectors, langs[items[0].draft_id])
            similarities = diversity.similarity_matrix(job_vectors)
            np.fill_diagonal(similarities, -np.inf)
            for row, item in zip(similarities, items, strict=True):
                # how close the nearest sibling variant is: 1.0 means a reviewer sees it twice
                sibling_similarity[item.draft_id] = float(row.max()) if len(items) > 1 else None

        scores = []
        for item in inputs:
            lang, space = langs[item.draft_id], spaces[item.draft_id]
            draft_vector = vectors.get(space, item.draft_text)
            relevance = metrics.relevance(vectors.get(space, item.brief_text), draft_vector)
            length = language.length(item.draft_text, lang)
            length_fit = metrics.length_fit(length, item.target_length)
            values = text_metrics(item, lang)
            values["relevance_method"] = space
            if item.source_material.strip():
                sentences = self.draft_sentences[item.draft_id]
                sources = self.source_sentences[item.source_material]
                values.update(grounding.grounding(
                    sentences, [vectors.get(space, s) for s in sentences],
                    sources, [vectors.get(space, s) for s in sources], lang,
                ))
            signature = novelty.signature(item.draft_text, lang)
            nearest = novelty.nearest_published(draft_vector, signature, self.job.published)
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
                score=score(relevance, length_fit), embedding_model=space, metrics=values,
                embedding=draft_vector, signature=signature,
            ))
        return scores


def text_metrics(item: ScoringInput, lang: language.Language) -> dict[str, Any]:
    """Metrics that read the draft's text alone (no embeddings), in the brief's language."""
    text = item.draft_text
    words = language.tokens(text, lang)
    ease, grade = metrics.readability(text, lang)
    findings = safety.safety(text)
    return {
        "language": lang.code,
        "length": language.length(text, lang),
        "length_unit": lang.unit,
        "target_length": item.target_length,
        "word_count": len(words),
        "char_count": len(text),
        "sentence_count": language.sentence_count(text),
        "distinct_words": len({t.lower() for t in words}),
        "repetition": round(metrics.repetition(words), 4),
        "reading_ease": ease,
        "reading_grade": grade,
        "keyword_coverage": language.coverage(text, item.keywords),
        "keywords_missing": language.terms_missing(text, item.keywords),
        "required_coverage": language.coverage(text, item.required_terms),
        "required_terms_missing": language.terms_missing(text, item.required_terms),
        "banned_terms_found": language.terms_found(text, item.banned_terms),
        **checks.checks(text, lang, words),
        **findings,
        "pii": len(findings["emails"]) + len(findings["phone_numbers"])
        + len(findings["card_numbers"]),
        **references.reference_overlap(text, item.reference_texts, lang),
    }


def hard_metrics(text: str, *, language_tag: str, banned_terms: Sequence[str],
                 published: PublishedIndex) -> dict[str, Any]:
    """The metrics of the hard rules that need no model: banned terms, personal data, another
    language, shared shingles with a published piece. What approval checks on an edit the
    evaluation worker has not scored yet; `published` need signatures only."""
    lang = language.language(language_tag)
    findings = safety.safety(text)
    overlap_of, overlap = novelty.nearest_overlap(novelty.signature(text, lang), published)
    return {
        "banned_terms_found": language.terms_found(text, banned_terms),
        "emails": findings["emails"],
        "phone_numbers": findings["phone_numbers"],
        "card_numbers": findings["card_numbers"],
        "wrong_language": checks.wrong_language(checks.detected_language(text), text, lang),
        "duplicate_overlap": overlap,
        "duplicate_overlap_of": overlap_of,
    }


def fingerprint_texts(texts: Sequence[tuple[int, str]], model_dir: str | Path, language_tag: str
                      ) -> list[PublishedPiece]:
    """Vector and MinHash signature of each (piece id, text) in `language_tag`, in one batch,
    in the vector space `vector_space` gives that language."""
    lang = language.language(language_tag)
    space = vector_space(model_dir, language_tag)
    vectors = _vectors([text for _, text in texts], space, model_dir)
    return [PublishedPiece(piece_id=piece_id, embedding=vector,
                           signature=novelty.signature(text, lang))
            for (piece_id, text), vector in zip(texts, vectors, strict=True)]
