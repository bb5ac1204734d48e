"""Overlap with the brief's reference texts: ROUGE-1/2/L (rouge-score), BLEU and chrF (sacrebleu).

Both libraries are the reference implementations their papers' numbers are quoted
from, so scores here compare with scores quoted anywhere else. A draft is scored
against all references at once: ROUGE takes the best reference per variant (the
rouge-score `score_multi` rule), BLEU and chrF count n-grams against every reference.

Tokens follow the brief's language. rouge-score's own tokenizer keeps only [a-z0-9],
so it scores any other script 0: English keeps it (with its Porter stemmer, the ROUGE
papers' setting), every other language is scored over the text layer's tokens
(jieba words for Chinese). BLEU uses sacrebleu's `zh` tokenizer for Chinese (each
Han character a token, as in WMT's Chinese tasks), `char` for Japanese (its `ja-mecab`
needs MeCab) and the standard `13a` elsewhere. chrF reads characters and needs none.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from workers.evaluation.language import Language, tokens

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")
_lock = threading.Lock()


BLEU_TOKENIZERS = {"zh": "zh", "ja": "char"}


@dataclass(frozen=True)
class _LanguageTokenizer:
    """rouge-score's tokenizer interface over the text layer's tokens, lower-cased."""

    lang: Language

    def tokenize(self, text: str) -> list[str]:
        return [token.lower() for token in tokens(text, self.lang)]


@cache
def _rouge_scorer(lang: Language) -> Any:
    from rouge_score import rouge_scorer

    if lang.code == "en":
        # the stemmer makes "composting" meet "compost", as in the ROUGE papers' settings
        return rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
    return rouge_scorer.RougeScorer(list(ROUGE_TYPES), tokenizer=_LanguageTokenizer(lang))


@cache
def _bleu(tokenizer: str) -> Any:
    from sacrebleu.metrics.bleu import BLEU

    # effective_order: a short draft with no 4-gram match is not scored 0 (sentence-level BLEU)
    return BLEU(effective_order=True, tokenize=tokenizer)


@cache
def _chrf() -> Any:
    from sacrebleu.metrics.chrf import CHRF

    return CHRF()


def rouge(draft: str, references: Sequence[str], lang: Language) -> dict[str, float]:
    """ROUGE-1, -2 and -L F-measures in [0, 1] against the best-matching reference."""
    with _lock:  # the scorer object is not documented as thread-safe; it is cheap to wait for
        scores = _rouge_scorer(lang).score_multi(list(references), draft)
    return {name: scores[name].fmeasure for name in ROUGE_TYPES}


def bleu(draft: str, references: Sequence[str], lang: Language) -> float:
    """Sentence BLEU in [0, 100] against all references."""
    metric = _bleu(BLEU_TOKENIZERS.get(lang.code, "13a"))
    return float(metric.sentence_score(draft, list(references)).score)


def chrf(draft: str, references: Sequence[str]) -> float:
    """chrF (character n-gram F-score, beta 2) in [0, 100] against all references."""
    return float(_chrf().sentence_score(draft, list(references)).score)


def reference_overlap(draft: str, references: Sequence[str], lang: Language) -> dict[str, float]:
    """All overlap scores of a draft; empty when the brief gives no reference text."""
    refs = [text for text in references if text.strip()]
    if not refs:
        return {}
    return {**rouge(draft, refs, lang), "bleu": bleu(draft, refs, lang),
            "chrf": chrf(draft, refs)}
