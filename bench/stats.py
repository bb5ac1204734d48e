"""What the benches' tables share: one percentile, so every bench reads p50 and p99 alike, and
the load average they report beside their figures."""

from __future__ import annotations

import os


def percentile(values: list[float], share: float) -> float:
    """The value `share` (0 to 1) of the way through the sorted values, by nearest rank;
    NaN when there are none."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def loadavg() -> list[float]:
    """The host's 1, 5 and 15-minute load average, as the benches' JSON lines give it."""
    return [round(x, 2) for x in os.getloadavg()]
