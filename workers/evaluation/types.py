"""Plain data crossing the boundary between the platform and the scorers."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
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


# How fingerprints are stored: embeddings as little-endian float32, MinHash signatures as
# little-endian uint64 (their values are under 2**61), each one bytes value.
EMBEDDING = np.dtype("<f4")
SIGNATURE = np.dtype("<u8")
Stored = bytes | memoryview


@dataclass(frozen=True)
class PublishedPiece:
    """A piece the workspace already published, as stored for near-duplicate search."""

    piece_id: int
    embedding: tuple[float, ...]
    signature: tuple[int, ...]  # MinHash of its word shingles (language-aware words)

    def stored(self) -> tuple[bytes, bytes]:
        """Its embedding and its signature as stored."""
        return (np.asarray(self.embedding, dtype=EMBEDDING).tobytes(),
                np.asarray(self.signature, dtype=SIGNATURE).tobytes())


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
    def from_stored(cls, rows: Iterable[tuple[int, Stored | None, Stored]]) -> PublishedIndex:
        """From stored fingerprints: (piece id, embedding, signature); an embedding of None on
        every row reads the signatures alone."""
        ids, embeddings, signatures = [], [], []
        for piece_id, embedding, signature in rows:
            ids.append(piece_id)
            if embedding is not None:
                embeddings.append(embedding)
            signatures.append(signature)
        if not ids:
            return cls()
        vectors = (np.frombuffer(b"".join(embeddings), dtype=EMBEDDING).reshape(len(ids), -1)
                   if embeddings else np.zeros((len(ids), 0), np.float32))
        return cls(tuple(ids), vectors,
                   np.frombuffer(b"".join(signatures), dtype=SIGNATURE).reshape(len(ids), -1))

    @classmethod
    def of(cls, pieces: Sequence[PublishedPiece]) -> PublishedIndex:
        return cls.from_stored((piece.piece_id, *piece.stored()) for piece in pieces)

    def refreshed(self, piece_ids: Sequence[int],
                  read: Callable[[list[int]], PublishedIndex]) -> PublishedIndex:
        """The index of the pieces `piece_ids` (ascending): this one's rows that are among
        them, and the rest read with `read` (their ids in, their index out). Itself when the
        ids are the same, so a worker keeping it between jobs reads only what went out since.
        Pieces are immutable (a revision's text never changes), so a kept row is still right."""
        if tuple(piece_ids) == self.piece_ids:
            return self
        wanted = set(piece_ids)
        kept = [row for row, piece_id in enumerate(self.piece_ids) if piece_id in wanted]
        missing = sorted(wanted.difference(self.piece_ids))
        parts = [part for part in (self._rows(kept), read(missing) if missing else None)
                 if part is not None and len(part)]
        if not parts:
            return PublishedIndex()
        ids = np.fromiter((i for part in parts for i in part.piece_ids), dtype=np.int64)
        order = np.argsort(ids, kind="stable")
        return PublishedIndex(tuple(ids[order].tolist()),
                              np.concatenate([part.vectors for part in parts])[order],
                              np.concatenate([part.signatures for part in parts])[order])

    def _rows(self, rows: list[int]) -> PublishedIndex:
        return PublishedIndex(tuple(self.piece_ids[row] for row in rows), self.vectors[rows],
                              self.signatures[rows])

    @property
    def nbytes(self) -> int:
        return int(self.vectors.nbytes + self.signatures.nbytes)


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
