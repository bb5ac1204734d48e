"""Metric functions over plain values: vectors, token lists and texts in a known language."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from workers.evaluation.language import Language, sentence_count, tokens


def relevance(brief: Sequence[float], draft: Sequence[float]) -> float:
    """Cosine similarity of two embeddings, in [-1, 1] (1: the same meaning)."""
    dot = math.fsum(a * b for a, b in zip(brief, draft, strict=True))
    norms = math.sqrt(math.fsum(a * a for a in brief)) * math.sqrt(math.fsum(b * b for b in draft))
    if norms == 0.0:
        return 0.0
    return max(-1.0, min(1.0, dot / norms))


def length_fit(length: int, target: int) -> float:
    """How close a draft is to its target length, in (0, 1]; 0.0 for an empty draft.

        length_fit = 2 ** -(log2(length / target)) ** 2

    Both counted in the brief language's unit (words, or characters for Chinese and
    Japanese). A Gaussian in log-ratio, so being twice too long counts as much as half
    too short, and the curve is flat at the target: 1.0 at the target, 0.93-0.95 at
    +-20 %, 0.5 at half or double, 0.0625 at a quarter or four times.
    """
    if target <= 0:
        raise ValueError(f"The target length must be a positive count, not {target}.")
    if length <= 0:
        return 0.0
    return math.pow(2.0, -(math.log2(length / target) ** 2))


def repetition(words: Sequence[str]) -> float:
    """Share of word trigrams that repeat an earlier one: 0.0 for fresh text, near 1.0 for a loop.

    Small generation models degenerate into loops; this shows it to a reviewer at a glance.
    """
    trigrams = [tuple(t.lower() for t in words[i:i + 3]) for i in range(len(words) - 2)]
    if not trigrams:
        return 0.0
    return 1.0 - len(set(trigrams)) / len(trigrams)


@dataclass(frozen=True)
class ReadingEase:
    """ease = base - per_sentence * words/sentence - per_syllable * syllables/word."""

    base: float
    per_sentence: float
    per_syllable: float
    hyphenation: str  # pyphen's dictionary, whose hyphenation points count syllables
    name: str


# Flesch's formula refitted for other languages by their own studies; a language not
# listed has no accepted formula of this shape (Chinese readability formulas count
# characters and strokes against graded word lists), so its readability is not available.
READING_EASE: dict[str, ReadingEase] = {
    "en": ReadingEase(206.835, 1.015, 84.6, "en_US", "Flesch (1948)"),
    "de": ReadingEase(180.0, 1.0, 58.5, "de_DE", "Amstad (1978)"),
    "fr": ReadingEase(207.0, 1.015, 73.6, "fr", "Kandel & Moles (1958)"),
    "it": ReadingEase(217.0, 1.3, 60.0, "it_IT", "Flesch-Vacca (1972)"),
    "nl": ReadingEase(206.835, 0.93, 77.0, "nl_NL", "Douma (1960)"),
}


@cache
def _hyphenator(dictionary: str) -> Any:
    import pyphen

    return pyphen.Pyphen(lang=dictionary)


def syllables(word: str, dictionary: str = "en_US") -> int:
    """Syllables of a word, from its hyphenation points (pyphen's TeX patterns); at least 1."""
    return len(_hyphenator(dictionary).positions(word.lower())) + 1


def readability(text: str, lang: Language) -> tuple[float | None, float | None]:
    """(reading ease, Flesch-Kincaid grade level); None where the language has no formula.

        ease  = base - a * words/sentence - b * syllables/word   (READING_EASE per language)
        grade = 0.39 * words/sentence + 11.8 * syllables/word - 15.59   (English only)

    English ease 60-70 is plain prose, below 30 is hard going; grade is the US school
    year a reader needs. A text without words scores (0.0, 0.0) where a formula exists.
    (textstat computes the same, but fetches a dictionary at run time.)
    """
    formula = READING_EASE.get(lang.code)
    if formula is None:
        return None, None
    words = tokens(text, lang)
    if not words:
        return 0.0, 0.0
    per_sentence = len(words) / max(sentence_count(text), 1)
    per_word = sum(syllables(w, formula.hyphenation) for w in words) / len(words)
    ease = formula.base - formula.per_sentence * per_sentence - formula.per_syllable * per_word
    grade = 0.39 * per_sentence + 11.8 * per_word - 15.59 if lang.code == "en" else None
    return ease, grade
