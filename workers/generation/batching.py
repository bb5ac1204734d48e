"""Micro-batching: several jobs, one forward pass per step; and device-memory failures.

A generation worker runs with a thread pool and a prefetch of several
messages (acks_late, so a message is acknowledged only when its job is
recorded). With AIGC_GENERATION_BATCHING=static each task thread hands its
request to the process's one `BatchCollector` and waits; the collector's thread
gathers what arrives within a short window, up to a row budget, and runs it
through the engine as one batch to its end. On CPU a step of 32 rows costs a few
times a step of one, so throughput grows several-fold (bench/generation_batching.py
measures it). The default, workers.generation.continuous, lets jobs join a
running batch instead.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

from workers.generation.engine import BatchItem, GenerationError
from workers.generation.types import GeneratedText

logger = logging.getLogger(__name__)

RunBatch = Callable[[list[BatchItem]], list[list[GeneratedText]]]
Waiting = tuple[BatchItem, Future[list[GeneratedText]]]  # an item and its caller's future


class OutOfDeviceMemory(GenerationError):
    """One job alone does not fit on the device; smaller variants or max tokens will."""


TOO_BIG_ALONE = ("The job does not fit in the GPU's memory even alone; "
                 "ask for fewer variants or fewer tokens.")


def is_out_of_memory(exc: BaseException) -> bool:
    import torch

    return isinstance(exc, torch.cuda.OutOfMemoryError)


def release_device(exc: BaseException) -> None:
    """Free what the failed batch still holds on the device before its halves run.

    The exception's traceback keeps the engine's frames alive, and with them the
    batch's activations and KV cache: retried inside `except`, every half ran out
    of memory too (seen on an H200 with the memory capped at ten rows' worth).
    """
    import torch

    exc.__traceback__ = None
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def run_splitting(run: RunBatch, items: list[BatchItem]) -> list[list[GeneratedText] | Exception]:
    """Run `items` as one batch; on device OOM halve it and retry each half.

    Any other error of a shared batch is retried item by item, so it lands on
    the job that caused it and its neighbours still get their texts.
    """
    try:
        return list(run(items))
    except Exception as exc:
        failure = exc
    if is_out_of_memory(failure):
        release_device(failure)
        if len(items) == 1:
            return [OutOfDeviceMemory(TOO_BIG_ALONE)]
        logger.warning("out of device memory with %s jobs; halving the batch", len(items))
        middle = len(items) // 2
        return run_splitting(run, items[:middle]) + run_splitting(run, items[middle:])
    if len(items) == 1:
        return [failure]
    return [result for item in items for result in run_splitting(run, [item])]


class BatchCollector:
    """Collects concurrent `submit` calls into batches of at most `max_rows` variants."""

    def __init__(self, run: RunBatch, *, max_rows: int, window_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._run, self._max_rows, self._window_s, self._clock = run, max_rows, window_s, clock
        self._pending: list[Waiting] = []
        self._arrived = threading.Condition()
        self._thread = threading.Thread(target=self._serve, name="batch-collector", daemon=True)
        self._thread.start()

    def submit(self, item: BatchItem) -> list[GeneratedText]:
        """The item's texts, written in a batch with whatever else arrived alongside it."""
        future: Future[list[GeneratedText]] = Future()
        with self._arrived:
            self._pending.append((item, future))
            self._arrived.notify_all()
        return future.result()

    def _take_batch(self) -> list[Waiting]:
        """Wait for work, then up to the window for more; one model and device per batch."""
        with self._arrived:
            self._arrived.wait_for(lambda: bool(self._pending))
            deadline = self._clock() + self._window_s
            while self._rows(self._pending) < self._max_rows:
                left = deadline - self._clock()
                if left <= 0 or not self._arrived.wait(left):
                    break
            first = self._pending[0][0].request
            key = (first.model, first.device)
            batch: list[Waiting] = []
            rows = 0
            for entry in list(self._pending):
                request = entry[0].request
                if (request.model, request.device) != key:
                    continue
                if batch and rows + request.variants > self._max_rows:
                    break
                batch.append(entry)
                rows += request.variants
                self._pending.remove(entry)
            return batch

    @staticmethod
    def _rows(pending: list[Waiting]) -> int:
        return sum(item.request.variants for item, _ in pending)

    def _serve(self) -> None:
        while True:
            batch = self._take_batch()
            try:
                results = run_splitting(self._run, [item for item, _ in batch])
            except BaseException as exc:  # never leave a task thread waiting forever
                results = [exc if isinstance(exc, Exception) else RuntimeError(str(exc))] * len(batch)
            for (_, future), result in zip(batch, results, strict=True):
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)
