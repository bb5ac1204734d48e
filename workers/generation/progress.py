"""Throttling token-by-token progress to what a browser needs.

A GPU writes hundreds of tokens a second across a job's variants; a reader
needs a few updates a second. Only each variant's latest text is kept, and
the variant that has waited longest goes out when the interval allows.
"""

from __future__ import annotations

import time
from collections.abc import Callable

Send = Callable[[int, str, int], None]  # (variant, text so far, tokens so far)


class ProgressThrottle:
    """At most `per_second` sends for the whole job; `flush` sends what is still waiting."""

    def __init__(self, send: Send, per_second: float,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._send = send
        self._interval = 1.0 / per_second
        self._clock = clock
        self._sleep = sleep
        self._last_sent = float("-inf")
        self._waiting: dict[int, tuple[str, int]] = {}  # insertion order = waiting longest first

    def offer(self, variant: int, text: str, tokens: int) -> None:
        self._waiting[variant] = (text, tokens)  # an update keeps the variant's place in line
        if self._clock() - self._last_sent >= self._interval:
            self._send_oldest()

    def flush(self) -> None:
        """Send every variant's last text, still no faster than the rate (at the job's end)."""
        while self._waiting:
            wait = self._interval - (self._clock() - self._last_sent)
            if wait > 0:
                self._sleep(wait)
            self._send_oldest()

    def _send_oldest(self) -> None:
        variant = next(iter(self._waiting))
        text, tokens = self._waiting.pop(variant)
        self._last_sent = self._clock()
        self._send(variant, text, tokens)
