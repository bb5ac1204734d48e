"""Plain data crossing the boundary between the platform and the scorers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ScoringInput:
    draft_id: int
    brief_text: str  # what the draft should be about: title, topic, keywords
    draft_text: str
    target_length: int  # in the language's unit: words, or characters for Chinese and Japanese
    keywords: tuple[str, ...] = ()
    required_terms: tuple[str, ...] = ()  # the style guide's
    banned_terms: tuple[str, ...] = ()  # the style guide's
    reference_texts: tuple[str, ...] = ()  # the brief's examples of a good piece
    source_material: str = ""  # what the draft's claims must rest on
    job_id: int = 0  # drafts of one job are compared with each other (diversity)
    language: str = "en"  # the brief's language tag


@dataclass(frozen=True)
class PublishedPiece:
    """A piece the workspace already published, as stored for near-duplicate search."""

    piece_id: int
    embedding: tuple[float, ...]
    signature: tuple[int, ...]  # MinHash of its word shingles (language-aware words)


@dataclass(frozen=True, eq=False)
class PublishedIndex:
    """A workspace's published pieces as matrices: row i of `vectors` (unit embeddings) and of
    `signatures` (MinHash) is piece `piece_ids[i]`. Read once per job straight from the stored
    bytes, so a draft's search is one matrix product, and a history of thousands of pieces
    costs a copy, not a Python float per dimension for every draft."""

    piece_ids: tuple[int, ...] = ()
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    signatures: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.uint64))

    def __len__(self) -> int:
        return len(self.piece_ids)

    @classmethod
    def stored(cls, rows: Iterable[tuple[int, bytes | memoryview | None, Sequence[int]]]
               ) -> PublishedIndex:
        """From stored fingerprints: (piece id, float32 little-endian embedding, signature);
        an embedding of None on every row reads the signatures alone."""
        ids, blobs, signatures = [], [], []
        for piece_id, blob, signature in rows:
            ids.append(piece_id)
            if blob is not None:
                blobs.append(blob)
            signatures.append(signature)
        if not ids:
            return cls()
        vectors = (np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(ids), -1) if blobs
                   else np.zeros((len(ids), 0), np.float32))
        return cls(tuple(ids), vectors, np.asarray(signatures, dtype=np.uint64))

    @classmethod
    def of(cls, pieces: Sequence[PublishedPiece]) -> PublishedIndex:
        return cls.stored((p.piece_id, np.asarray(p.embedding, dtype="<f4").tobytes(),
                           p.signature) for p in pieces)


@dataclass(frozen=True)
class ScoringJob:
    """One job's drafts and the published pieces of its workspace they must not duplicate."""

    inputs: tuple[ScoringInput, ...]
    published: PublishedIndex = field(default_factory=PublishedIndex)


@dataclass(frozen=True)
class DraftScore:
    draft_id: int
    relevance: float
    length_fit: float
    score: float
    embedding_model: str
    metrics: dict[str, Any] = field(default_factory=dict)
    # novelty search keys, stored so later drafts find this one once it is published
    embedding: tuple[float, ...] = ()
    signature: tuple[int, ...] = ()
