"""Plain data crossing the boundary between the platform and the scorers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ScoringInput:
    draft_id: int
    brief_text: str  # what the draft should be about: title, topic, keywords
    draft_text: str
    target_words: int


@dataclass(frozen=True)
class DraftScore:
    draft_id: int
    relevance: float
    length_fit: float
    score: float
    embedding_model: str
    metrics: dict[str, Any] = field(default_factory=dict)
