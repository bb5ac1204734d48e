"""Throttling live progress to what a browser needs, and the progress records themselves.

A GPU writes hundreds of tokens a second across a job's variants; a reader
needs a few updates a second. Only each key's (variant's) latest record is kept,
and the key that has waited longest goes out when the interval allows. Records
stay typed data all the way to the page: nothing is formatted into text and read back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

R = TypeVar("R")


@dataclass(frozen=True)
class TextProgress:
    """A variant's text so far and the completion tokens it holds."""

    text: str
    tokens: int


@dataclass(frozen=True)
class LossPoint:
    """A training run's mean loss over its recent steps, at `step`."""

    step: int
    loss: float


class ProgressThrottle(Generic[R]):
    """At most `per_second` sends for the whole job while it writes; `flush` sends what is
    still waiting."""

    def __init__(self, send: Callable[[int, R], None], per_second: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._send = send
        self._interval = 1.0 / per_second
        self._clock = clock
        self._last_sent = float("-inf")
        self._waiting: dict[int, R] = {}  # insertion order = waiting longest first

    def offer(self, key: int, record: R) -> None:
        self._waiting[key] = record  # an update keeps the key's place in line
        if self._clock() - self._last_sent >= self._interval:
            self._send_oldest()

    def flush(self) -> None:
        """Send every key's last record at once (at the job's end): one per variant, a
        handful, and pacing them held the job's thread from the next job."""
        while self._waiting:
            self._send_oldest()

    def _send_oldest(self) -> None:
        key = next(iter(self._waiting))
        record = self._waiting.pop(key)
        self._last_sent = self._clock()
        self._send(key, record)
