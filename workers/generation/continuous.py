"""Continuous (iteration-level) batching: jobs join and leave a running batch between steps.

The micro-batcher (workers.generation.batching) runs a batch to its end, so a
job arriving meanwhile waits for the longest text in it. Here one scheduler
thread keeps a RunningBatch going: before every decoding step it admits the
jobs that arrived (their prompts are prefilled in that step and their KV caches
stacked under the running rows'), and a row that finishes, is cancelled or
times out (its job's `should_stop`) leaves at once. A late job's first token
therefore comes one step after it arrives (a few more when the batch is full and a
queue waits, see `_take`), and a job's texts are what it would write alone (see
RunningBatch).

Jobs run in arrival order: when the oldest waiting job names another model or
device, nothing more is admitted, the batch drains, and that model's batch
starts. A model whose KV cache cannot be stacked (sliding-window or recurrent
layers) takes no newcomers while it runs, which makes it a static batch.

On CUDA, transformers' own continuous batching (paged attention) could serve
the same `submit` interface from this class; it has not been measured here yet.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from itertools import takewhile
from pathlib import Path

from workers.generation.batching import (
    TOO_BIG_ALONE,
    OutOfDeviceMemory,
    is_out_of_memory,
    release_device,
)
from workers.generation.engine import BatchItem, RunningBatch, load_model
from workers.generation.types import GeneratedText

logger = logging.getLogger(__name__)

Waiting = tuple[BatchItem, Future[list[GeneratedText]]]
JOIN_WAIT_STEPS = 4  # the most steps a job that fits waits for others to join with it


def _key(item: BatchItem) -> tuple[str, str]:
    return item.request.model, item.request.device


class ContinuousBatcher:
    """Serves `submit` calls from any thread in one running batch of at most `max_rows` rows;
    `models_dir` is asked at each admission (a worker's settings may change under tests)."""

    def __init__(self, *, models_dir: Callable[[], Path | None], max_rows: int,
                 clock: Callable[[], float] = time.monotonic,
                 batch_invariant: bool = True) -> None:
        self._models_dir, self._max_rows, self._clock = models_dir, max_rows, clock
        self._batch_invariant = batch_invariant  # see engine.load_model
        self._row_budget = max_rows  # lowered after running out of memory, until the queue empties
        self._waiting: deque[Waiting] = deque()
        self._arrived = threading.Condition()
        self._batch: RunningBatch | None = None
        self._batch_key: tuple[str, str] = ("", "")
        self._held = 0  # steps the waiting jobs have been held back to join together
        # id of an admitted item → its caller's future
        self._futures: dict[int, Future[list[GeneratedText]]] = {}
        self._thread = threading.Thread(target=self._serve, name="continuous-batcher",
                                        daemon=True)
        self._thread.start()

    def submit(self, item: BatchItem) -> list[GeneratedText]:
        """The item's texts, written in the running batch from the next step on."""
        return self.enqueue(item).result()

    def enqueue(self, item: BatchItem) -> Future[list[GeneratedText]]:
        """Like `submit`, without waiting: the future holds the texts or the item's error."""
        future: Future[list[GeneratedText]] = Future()
        with self._arrived:
            self._waiting.append((item, future))
            self._arrived.notify_all()
        return future

    def _take(self) -> list[Waiting]:
        """The waiting jobs that fit the running batch (waits for one while the batch is idle).

        Every admission costs a prefill pass besides the step's decoding pass. When the
        batch is full and a queue waits, rows free up one or two a step; admitting them
        one by one doubled the passes and lost to static batches in a burst
        (bench/generation_arrivals.py). So newcomers join once a quarter of the budget
        (or all that wait) fits, or JOIN_WAIT_STEPS steps after the first of them fits.
        """
        batch = self._batch
        with self._arrived:
            if batch is None:
                self._arrived.wait_for(lambda: bool(self._waiting))
            elif not batch.mergeable:
                return []
            key = _key(self._waiting[0][0]) if batch is None else self._batch_key
            running = batch.rows if batch else 0
            queued = list(takewhile(lambda entry: _key(entry[0]) == key, self._waiting))
            fitting, rows = 0, running
            for item, _ in queued:
                if (rows or fitting) and rows + item.request.variants > self._row_budget:
                    break
                fitting, rows = fitting + 1, rows + item.request.variants
            wanted = min(sum(item.request.variants for item, _ in queued),
                         max(1, self._row_budget // 4))
            if not fitting:
                return []
            if running and rows - running < wanted and self._held < JOIN_WAIT_STEPS:
                self._held += 1  # counted from when a job first fits
                return []
            self._held = 0
            return [self._waiting.popleft() for _ in range(fitting)]

    def _admit(self, waiting: list[Waiting]) -> None:
        for n, (item, future) in enumerate(waiting):
            try:
                loaded = load_model(item.request.model, item.request.device,
                                    self._models_dir(), batch_invariant=self._batch_invariant)
                if self._batch is not None and loaded is not self._batch.loaded:
                    # The model was retrained meanwhile: it starts once this batch drains.
                    with self._arrived:
                        self._waiting.extendleft(reversed(waiting[n:]))
                    return
                if self._batch is None:
                    self._batch, self._batch_key = RunningBatch(loaded, self._clock), _key(item)
                admitted = self._batch.admit(item)
            except Exception as exc:  # a request this worker cannot serve fails alone
                future.set_exception(exc)
                continue
            self._futures[admitted.rows[0].item] = future

    def _serve(self) -> None:
        while True:
            self._admit(self._take())
            batch = self._batch
            if batch is None:
                continue
            try:
                batch.step()
            except Exception as exc:
                self._fail_batch(batch, exc)
                continue
            for admitted in batch.finished():
                future = self._futures.pop(admitted.rows[0].item)
                if admitted.error is not None:
                    future.set_exception(admitted.error)
                else:
                    future.set_result(batch.results(admitted))
            if not batch.rows:
                self._batch = None
                with self._arrived:
                    if not self._waiting:  # the jobs an out-of-memory restart queued are done
                        self._row_budget = self._max_rows

    def _fail_batch(self, batch: RunningBatch, failure: Exception) -> None:
        """A shared step failed. Out of device memory: the batch's jobs start again from
        their first token (same texts: each row re-seeds) in batches of half the rows;
        a job that fails alone, or any other error, fails the jobs that were in the step."""
        entries = batch.items()
        self._batch = None
        futures = [self._futures.pop(entry.rows[0].item) for entry in entries]
        if is_out_of_memory(failure):
            release_device(failure)
            if len(entries) > 1:
                logger.warning("out of device memory with %s jobs; restarting them in "
                               "smaller batches", len(entries))
                self._row_budget = max(1, batch.rows // 2)
                with self._arrived:
                    self._waiting.extendleft(
                        reversed([(e.item, f) for e, f in zip(entries, futures, strict=True)]))
                return
            failure = OutOfDeviceMemory(TOO_BIG_ALONE)
        logger.error("a generation step failed for %s jobs", len(entries), exc_info=failure)
        for future in futures:
            future.set_exception(failure)
