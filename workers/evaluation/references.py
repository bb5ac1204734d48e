"""Overlap with the brief's reference texts: ROUGE-1/2/L (rouge-score), BLEU and chrF (sacrebleu).

Both libraries are the reference implementations their papers' numbers are quoted
from, so scores here compare with scores quoted anywhere else. A draft is scored
against all references at once: ROUGE takes the best reference per variant (the
rouge-score `score_multi` rule), BLEU and chrF count n-grams against every reference.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import cache
from typing import Any

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")
_lock = threading.Lock()


@cache
def _rouge_scorer() -> Any:
    from rouge_score import rouge_scorer

    # the stemmer makes "composting" meet "compost", as in the ROUGE papers' settings
    return rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)


@cache
def _sacrebleu() -> tuple[Any, Any]:
    from sacrebleu.metrics import BLEU, CHRF

    # effective_order: a short draft with no 4-gram match is not scored 0 (sentence-level BLEU)
    return BLEU(effective_order=True), CHRF()


def rouge(draft: str, references: Sequence[str]) -> dict[str, float]:
    """ROUGE-1, -2 and -L F-measures in [0, 1] against the best-matching reference."""
    with _lock:  # the scorer object is not documented as thread-safe; it is cheap to wait for
        scores = _rouge_scorer().score_multi(list(references), draft)
    return {name: scores[name].fmeasure for name in ROUGE_TYPES}


def bleu(draft: str, references: Sequence[str]) -> float:
    """Sentence BLEU in [0, 100] against all references."""
    metric, _ = _sacrebleu()
    return float(metric.sentence_score(draft, list(references)).score)


def chrf(draft: str, references: Sequence[str]) -> float:
    """chrF (character n-gram F-score, beta 2) in [0, 100] against all references."""
    _, metric = _sacrebleu()
    return float(metric.sentence_score(draft, list(references)).score)


def reference_overlap(draft: str, references: Sequence[str]) -> dict[str, float]:
    """All overlap scores of a draft; empty when the brief gives no reference text."""
    refs = [text for text in references if text.strip()]
    if not refs:
        return {}
    return {**rouge(draft, refs), "bleu": bleu(draft, refs), "chrf": chrf(draft, refs)}
