"""Metric functions over plain values: vectors, texts and word counts."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from functools import cache
from typing import Any

# A word is a run of letters or digits, with inner apostrophes ("don't" is one word):
# what an editor means by "a 300-word post", punctuation and dashes not counted.
_WORD = re.compile(r"\w+(?:['\u2019]\w+)*")
_SENTENCE_END = re.compile(r"[.!?]+(?:\s|$)")


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def sentence_count(text: str) -> int:
    """Sentences ended by . ! or ?, plus a trailing one left without an end mark."""
    body = text.strip()
    if not body:
        return 0
    ends = len(_SENTENCE_END.findall(body))
    return ends + (0 if body[-1] in ".!?" else 1)


def relevance(brief: Sequence[float], draft: Sequence[float]) -> float:
    """Cosine similarity of two embeddings, in [-1, 1] (1: the same meaning)."""
    dot = math.fsum(a * b for a, b in zip(brief, draft, strict=True))
    norms = math.sqrt(math.fsum(a * a for a in brief)) * math.sqrt(math.fsum(b * b for b in draft))
    if norms == 0.0:
        return 0.0
    return max(-1.0, min(1.0, dot / norms))


def length_fit(word_count: int, target_words: int) -> float:
    """How close a draft is to its target length, in (0, 1]; 0.0 for an empty draft.

        length_fit = 2 ** -(log2(word_count / target_words)) ** 2

    A Gaussian in log-ratio, so being twice too long counts as much as half too
    short, and the curve is flat at the target: 1.0 at the target, 0.93-0.95 at
    +-20 %, 0.5 at half or double, 0.0625 at a quarter or four times.
    """
    if target_words <= 0:
        raise ValueError(f"The target length must be a positive word count, not {target_words}.")
    if word_count <= 0:
        return 0.0
    return 2.0 ** -(math.log2(word_count / target_words) ** 2)


def repetition(tokens: Sequence[str]) -> float:
    """Share of word trigrams that repeat an earlier one: 0.0 for fresh text, near 1.0 for a loop.

    Small generation models degenerate into loops; this shows it to a reviewer at a glance.
    """
    trigrams = [tuple(t.lower() for t in tokens[i:i + 3]) for i in range(len(tokens) - 2)]
    if not trigrams:
        return 0.0
    return 1.0 - len(set(trigrams)) / len(trigrams)


def term_pattern(term: str) -> re.Pattern[str]:
    """A case-insensitive match of `term` as whole words, any run of spaces between its words."""
    parts = [re.escape(part) for part in term.split()]
    return re.compile(r"(?<!\w)" + r"\s+".join(parts) + r"(?!\w)", re.IGNORECASE)


def distinct_terms(terms: Sequence[str]) -> list[str]:
    """Non-blank terms, stripped, in order, the first spelling of each kept (case-insensitive)."""
    unique: dict[str, str] = {}
    for term in terms:
        unique.setdefault(term.strip().lower(), term.strip())
    unique.pop("", None)
    return list(unique.values())


def terms_found(text: str, terms: Sequence[str]) -> list[str]:
    """The distinct terms that occur in `text`, as spelled in `terms`."""
    return [term for term in distinct_terms(terms) if term_pattern(term).search(text)]


def terms_missing(text: str, terms: Sequence[str]) -> list[str]:
    return [term for term in distinct_terms(terms) if not term_pattern(term).search(text)]


def coverage(text: str, terms: Sequence[str]) -> float:
    """Share of the distinct terms found in `text`; 1.0 when there are none to find."""
    unique = distinct_terms(terms)
    if not unique:
        return 1.0
    return len(terms_found(text, unique)) / len(unique)


@cache
def _hyphenator() -> Any:
    import pyphen

    return pyphen.Pyphen(lang="en_US")


def syllables(word: str) -> int:
    """Syllables of an English word, from its hyphenation points (pyphen's TeX patterns); at least 1."""
    return len(_hyphenator().positions(word.lower())) + 1


def readability(text: str) -> tuple[float, float]:
    """(Flesch reading ease, Flesch-Kincaid grade level) of the text; (0.0, 0.0) without words.

        ease  = 206.835 - 1.015 * words/sentence - 84.6 * syllables/word
        grade = 0.39 * words/sentence + 11.8 * syllables/word - 15.59

    Ease 60-70 is plain English, below 30 is hard going; grade is the US school year
    a reader needs. (textstat computes the same, but fetches a dictionary at run time.)
    """
    tokens = words(text)
    if not tokens:
        return 0.0, 0.0
    per_sentence = len(tokens) / max(sentence_count(text), 1)
    per_word = sum(syllables(t) for t in tokens) / len(tokens)
    return (206.835 - 1.015 * per_sentence - 84.6 * per_word,
            0.39 * per_sentence + 11.8 * per_word - 15.59)
