"""A circuit breaker over a row's failures in a row: publishing targets, webhook subscriptions.

`threshold` failures in a row open it for `pause`: nothing is sent meanwhile, so a dead
peer is not hammered by every queued item's retries and holds no worker. The first try
after the pause is the probe: a success closes the breaker, a failure opens it again for
another pause. The row carries `consecutive_failures` and `paused_until`; the caller locks
it (select_for_update), calls `failure` or `success`, and saves BREAKER_FIELDS.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

BREAKER_FIELDS = ["consecutive_failures", "paused_until"]


class BreakerRow(Protocol):
    consecutive_failures: int
    paused_until: datetime | None


def breaker_open(row: BreakerRow, now: datetime) -> bool:
    return row.paused_until is not None and row.paused_until > now


@dataclass(frozen=True)
class Breaker:
    threshold: int
    pause: timedelta

    def failure(self, row: BreakerRow, *, now: datetime) -> bool:
        """Count a failure; True when it opened the breaker (`paused_until` is set)."""
        row.consecutive_failures += 1
        opened = row.consecutive_failures >= self.threshold and not breaker_open(row, now)
        if opened:
            row.paused_until = now + self.pause
        return opened

    @staticmethod
    def success(row: BreakerRow) -> bool:
        """Close the breaker; True when a pause of it ended (the row resumes)."""
        resumed = row.paused_until is not None
        row.consecutive_failures, row.paused_until = 0, None
        return resumed
