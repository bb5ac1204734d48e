"""How different a job's variants are from each other: distinct-n, self-BLEU, embedding similarity.

Variants that say the same thing in the same words give a reviewer no choice;
these three numbers show it at three depths (words, phrasing, meaning).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from workers.evaluation import references
from workers.evaluation.language import Language, tokens


def distinct_n(texts: Sequence[str], n: int, lang: Language) -> float:
    """Distinct n-grams over all n-grams of all texts (Li et al. 2016), lower-cased; 0.0 if none."""
    grams: list[tuple[str, ...]] = []
    for text in texts:
        words = [t.lower() for t in tokens(text, lang)]
        grams.extend(tuple(words[i:i + n]) for i in range(len(words) - n + 1))
    return len(set(grams)) / len(grams) if grams else 0.0


def self_bleu(texts: Sequence[str], lang: Language) -> float | None:
    """Mean BLEU (0-100) of each text against all the others (Zhu et al. 2018); None for one text."""
    if len(texts) < 2:
        return None
    scores = [references.bleu(text, [*texts[:i], *texts[i + 1:]], lang) for i, text in enumerate(texts)]
    return sum(scores) / len(scores)


def similarity_matrix(vectors: Sequence[Sequence[float]]) -> np.ndarray:
    """Cosine similarities of unit-length embeddings, all pairs at once."""
    matrix = np.asarray(vectors, dtype=np.float64).reshape(len(vectors), -1)
    return matrix @ matrix.T


def mean_pairwise_similarity(vectors: Sequence[Sequence[float]]) -> float | None:
    """Mean cosine similarity over all pairs of unit-length embeddings; None for fewer than two."""
    n = len(vectors)
    if n < 2:
        return None
    upper = similarity_matrix(vectors)[np.triu_indices(n, k=1)]
    return float(upper.mean())


def diversity(texts: Sequence[str], vectors: Sequence[Sequence[float]], lang: Language
              ) -> dict[str, float | None]:
    """The job-level figures stored with each of its drafts' evaluations."""
    return {
        "variants": len(texts),
        "distinct_1": distinct_n(texts, 1, lang),
        "distinct_2": distinct_n(texts, 2, lang),
        "self_bleu": self_bleu(texts, lang),
        "mean_pairwise_similarity": mean_pairwise_similarity(vectors),
    }
