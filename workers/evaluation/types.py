"""Plain data crossing the boundary between the platform and the scorers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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


@dataclass(frozen=True)
class ScoringJob:
    """One job's drafts and the published pieces of its workspace they must not duplicate."""

    inputs: tuple[ScoringInput, ...]
    published: tuple[PublishedPiece, ...] = ()


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
