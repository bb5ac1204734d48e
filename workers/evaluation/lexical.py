"""The lexical fallback for relevance: hashed character n-gram vectors, cosine-compared.

Used where the embedding model does not cover the brief's language (the packaged
all-MiniLM-L6-v2 was trained on English only: on Chinese text its vectors follow
the script, not the meaning). Each text becomes a vector of its character n-grams,
bigrams inside Han and kana runs (a Chinese word is mostly two characters) and
trigrams inside other words (spaces marking word edges), counted sublinearly
(1 + ln count) so a repeated phrase cannot dominate, hashed into DIMENSIONS buckets
and L2-normalised. The dot product of two such vectors is their n-gram cosine, so
every consumer of embeddings (relevance, grounding, variant similarity, near-duplicate
search) works unchanged on them. Scores are labelled with NAME wherever they are shown.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from workers.evaluation.language import runs

NAME = "lexical fallback: character n-gram cosine"
# 4096 buckets: a 1,000-character draft has ~1,000 distinct n-grams, so under 12 % of
# them share a bucket with another (1 - e^(-1000/4096)); a vector is 16 KB as float32.
DIMENSIONS = 4096


def ngrams(text: str) -> Counter[str]:
    """Character bigrams of Han and kana runs, trigrams of other words (with edge spaces)."""
    counts: Counter[str] = Counter()
    for run, ideographic in runs(text.lower()):
        if ideographic:
            size = 2
        else:
            run, size = f" {run} ", 3
        if len(run) < size:
            counts[run] += 1
        counts.update(run[i:i + size] for i in range(len(run) - size + 1))
    return counts


def _bucket(gram: str) -> int:
    return int.from_bytes(hashlib.blake2b(gram.encode(), digest_size=4).digest(), "big") % DIMENSIONS


def embed(texts: Sequence[str]) -> list[tuple[float, ...]]:
    """Unit-length hashed n-gram vectors of `texts`, in order; a text without letters is all zeros."""
    vectors = []
    for text in texts:
        vector = np.zeros(DIMENSIONS, dtype=np.float64)
        for gram, count in ngrams(text).items():
            vector[_bucket(gram)] += 1.0 + math.log(count)
        norm = float(np.linalg.norm(vector))
        vectors.append(tuple((vector / norm if norm else vector).tolist()))
    return vectors
