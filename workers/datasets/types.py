"""What the dataset engine takes and returns: plain frozen dataclasses, no Django."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

HTML, TEXT = "html", "text"  # how a raw document's text is written (markdown is text)
SPLITS = ("train", "validation", "test")


def _without_default_weight(row: dict[str, Any]) -> dict[str, Any]:
    # Rows of weight 1 are written as before weights existed; readers default to 1.
    if row["weight"] == 1:
        del row["weight"]
    return row


@dataclass(frozen=True)
class RawDocument:
    """A document as imported: its text in `format`, where it came from, and a stable id."""

    id: str
    text: str
    format: str = TEXT
    source: str = ""
    title: str = ""
    weight: int = 1  # how often training sees it (engagement weighting: 2 for the best liked)

    def to_json(self) -> dict[str, Any]:
        return _without_default_weight(asdict(self))


@dataclass(frozen=True)
class CleanDocument:
    id: str
    text: str
    language: str  # ISO 639-1 code, "und" when the detector is unsure
    tokens: int  # words; jieba words in Chinese, characters in Japanese
    source: str = ""
    weight: int = 1

    def to_json(self) -> dict[str, Any]:
        return _without_default_weight(asdict(self))


@dataclass(frozen=True)
class CleaningOptions:
    """What a build keeps. Lengths are in characters (comparable across scripts)."""

    min_chars: int = 200
    max_chars: int = 100_000
    languages: tuple[str, ...] = ()  # ISO 639-1 codes kept; empty keeps every language
    near_duplicate_threshold: float = 0.8  # estimated Jaccard index of 5-word shingles
    scrub_pii: bool = False
    remove_boilerplate: bool = True
    seed: int = 0
    validation_share: float = 0.1
    test_share: float = 0.1

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "languages": list(self.languages)}


@dataclass(frozen=True)
class CleaningResult:
    splits: dict[str, list[CleanDocument]]
    stats: dict[str, Any]
    # A few kept documents beside their originals, for the dashboard.
    samples: list[dict[str, str]] = field(default_factory=list)
