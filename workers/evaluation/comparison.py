"""Figures for comparing model versions: how much reviewers rewrote a text, and 95 %
intervals around rates and means, so a small A/B sample says how little it shows."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from workers.evaluation.language import Language, tokens

Z95 = 1.959964  # the standard normal's 97.5th percentile


def edit_distance(before: str, after: str, lang: Language) -> float:
    """Word-level Levenshtein distance from `before` to `after` over the longer text's word
    count: 0.0 unchanged, 1.0 rewritten throughout. Words are the language's (jieba's words
    in Chinese, never whitespace-split)."""
    a, b = tokens(before, lang), tokens(after, lang)
    longest = max(len(a), len(b))
    if not longest:
        return 0.0
    # Reviewers' edits are mostly local: the shared start and end cost nothing, and
    # dropping them keeps the quadratic table small for long texts.
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    end = 0
    while end < min(len(a), len(b)) - start and a[-1 - end] == b[-1 - end]:
        end += 1
    a, b = a[start:len(a) - end], b[start:len(b) - end]
    previous = list(range(len(b) + 1))
    for i, word in enumerate(a, start=1):
        current = [i]
        for j, other in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (word != other)))
        previous = current
    return previous[-1] / longest


@dataclass(frozen=True)
class Estimate:
    """A rate or a mean over `n` observations, with its 95 % interval (None when n is 0,
    and the interval None when one observation gives no spread)."""

    n: int
    value: float | None
    low: float | None
    high: float | None

    def to_json(self) -> dict[str, float | int | None]:
        return {"n": self.n, "value": _round(self.value), "low": _round(self.low),
                "high": _round(self.high)}


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def rate(successes: int, n: int) -> Estimate:
    """The share of successes with its Wilson score interval, which stays inside [0, 1] and
    is honest at the small counts and extreme rates an early A/B test has."""
    if not n:
        return Estimate(0, None, None, None)
    p = successes / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
    return Estimate(n, p, max(0.0, centre - half), min(1.0, centre + half))


def mean(values: Sequence[float]) -> Estimate:
    """The mean with a normal-approximation interval (mean ± 1.96 standard errors)."""
    if not values:
        return Estimate(0, None, None, None)
    average = statistics.fmean(values)
    if len(values) < 2:
        return Estimate(1, average, None, None)
    half = Z95 * statistics.stdev(values) / math.sqrt(len(values))
    return Estimate(len(values), average, average - half, average + half)
