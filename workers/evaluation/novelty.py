"""Near-duplicate search against what a workspace already published.

Two signals, because each misses what the other sees: word-shingle MinHash finds a
copy with light edits (the same sentences), embedding similarity finds a paraphrase
(the same meaning in new words). Signatures and embeddings are computed once per
text and stored; a search compares a draft with the stored ones in one matrix pass.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from workers.evaluation.language import Language, tokens
from workers.evaluation.types import PublishedIndex

# 5-word shingles (jieba words in Chinese): short enough to survive edits, long enough to be rare
SHINGLE_WORDS = 5
# 64 permutations estimate a Jaccard similarity within +-0.06 (one standard error at 0.5).
PERMUTATIONS = 64
_MERSENNE = (1 << 61) - 1


def shingles(text: str, lang: Language, size: int = SHINGLE_WORDS) -> set[str]:
    """Lower-cased word `size`-grams; a shorter text is one shingle of all its words."""
    words = [t.lower() for t in tokens(text, lang)]
    if len(words) <= size:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i:i + size]) for i in range(len(words) - size + 1)}


@cache
def _permutations() -> tuple[np.ndarray, np.ndarray]:
    # fixed seed: signatures stored today must compare with ones computed next year
    rng = np.random.default_rng(20240601)
    a = rng.integers(1, _MERSENNE, PERMUTATIONS, dtype=np.uint64)
    b = rng.integers(0, _MERSENNE, PERMUTATIONS, dtype=np.uint64)
    return a, b


def signature(text: str, lang: Language) -> tuple[int, ...]:
    """The MinHash signature of the text's shingles: PERMUTATIONS minima of (a*h + b) mod 2^61-1."""
    hashes = np.array(
        [int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "big") % _MERSENNE
         for s in shingles(text, lang)] or [0],
        dtype=object,  # Python ints: a*h needs 122 bits before the modulo
    )
    a, b = _permutations()
    values = (np.outer(hashes, a.astype(object)) + b.astype(object)) % _MERSENNE
    return tuple(int(v) for v in values.min(axis=0))


def jaccard_estimate(first: Sequence[int], second: Sequence[int]) -> float:
    """Share of equal MinHash positions: an unbiased estimate of the shingle sets' Jaccard index."""
    return float(np.mean(np.asarray(first, dtype=np.uint64) == np.asarray(second, dtype=np.uint64)))


@dataclass(frozen=True)
class NearestPublished:
    similarity_piece_id: int | None  # the published piece nearest in meaning
    similarity: float  # its cosine similarity (0.0 when nothing is published)
    overlap_piece_id: int | None  # the published piece sharing most shingles
    overlap: float  # its estimated Jaccard index of shingles


def nearest_overlap(sig: Sequence[int], published: PublishedIndex) -> tuple[int | None, float]:
    """(piece id, estimated Jaccard index) of the published piece sharing most shingles."""
    if not len(published):
        return None, 0.0
    overlaps = (published.signatures == np.asarray(sig, dtype=np.uint64)).mean(axis=1)
    best = int(overlaps.argmax())
    return published.piece_ids[best], float(overlaps[best])


def nearest_published(embedding: Sequence[float], sig: Sequence[int], published: PublishedIndex
                      ) -> NearestPublished:
    if not len(published):
        return NearestPublished(None, 0.0, None, 0.0)
    # unit vectors: dot = cosine
    cosines = published.vectors @ np.asarray(embedding, dtype=np.float32)
    near = int(cosines.argmax())
    overlap_piece_id, overlap = nearest_overlap(sig, published)
    return NearestPublished(
        similarity_piece_id=published.piece_ids[near], similarity=float(cosines[near]),
        overlap_piece_id=overlap_piece_id, overlap=overlap,
    )
