"""Concurrent calls gathered into batches on one thread: the generation worker's
micro-batches (workers.generation.batching) and the evaluation worker's scoring calls
(workers.evaluation.batching) are both this, over their own items.

A worker's task threads each `submit` an item and wait; the collector's thread takes what
waits for the same key (the model the items need), up to a size budget, runs it as one
batch and hands each thread its own result or error. One thread runs the model, so a pool
of task threads never oversubscribes the cores with concurrent forward passes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")


def _never(_: Exception) -> bool:
    return False


def run_or_split(run: Callable[[list[Item]], Sequence[Result]], items: list[Item], *,
                 halve: Callable[[Exception], bool] = _never) -> list[Result | Exception]:
    """Run `items` as one batch. When it fails with an error `halve` accepts (the device's
    memory ran out), each half runs again; with any other, each item alone, so the error
    lands on the item that caused it and its neighbours still get their results.

    `halve` may also free what the failed run still holds (device memory), so it is asked
    about every failure, a lone item's included, before anything runs again."""
    try:
        return list(run(items))
    except Exception as exc:
        failure = exc
    halving = halve(failure)
    if len(items) == 1:
        return [failure]
    logger.warning("a batch of %s failed (%s); %s", len(items), type(failure).__name__,
                   "halving it" if halving else "running each alone")
    if halving:
        middle = len(items) // 2
        return (run_or_split(run, items[:middle], halve=halve)
                + run_or_split(run, items[middle:], halve=halve))
    return [result for item in items for result in run_or_split(run, [item], halve=halve)]


class Collector(Generic[Item, Result]):
    """Collects concurrent `submit` calls into `run` calls of one `key` and at most `budget`
    in `size` (an item bigger than that runs alone). Once work waits, it waits up to
    `window_s` for more; what arrives while a batch runs waits for the next one, so it
    batches under load even without a window."""

    def __init__(self, run: Callable[[list[Item]], list[Result | Exception]], *,
                 key: Callable[[Item], Hashable], size: Callable[[Item], int], budget: int,
                 window_s: float, name: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._run, self._key, self._size, self._budget = run, key, size, budget
        self._window_s, self._clock = window_s, clock
        self._pending: list[tuple[Item, Future[Result]]] = []
        self._arrived = threading.Condition()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def submit(self, item: Item) -> Result:
        """The item's result, computed in a batch with whatever waited alongside it."""
        future: Future[Result] = Future()
        with self._arrived:
            self._pending.append((item, future))
            self._arrived.notify_all()
        return future.result()

    def waiting(self) -> int:
        """The size of what waits for a batch."""
        with self._arrived:
            return sum(self._size(item) for item, _ in self._pending)

    def _take_batch(self) -> list[tuple[Item, Future[Result]]]:
        with self._arrived:
            self._arrived.wait_for(lambda: bool(self._pending))
            deadline = self._clock() + self._window_s
            while self.waiting() < self._budget:
                left = deadline - self._clock()
                if left <= 0 or not self._arrived.wait(left):
                    break
            key = self._key(self._pending[0][0])
            batch: list[tuple[Item, Future[Result]]] = []
            taken = 0
            for entry in list(self._pending):
                if self._key(entry[0]) != key:
                    continue
                size = self._size(entry[0])
                if batch and taken + size > self._budget:
                    break
                batch.append(entry)
                taken += size
                self._pending.remove(entry)
            return batch

    def _serve(self) -> None:
        while True:
            batch = self._take_batch()
            results: list[Result | Exception]
            try:
                results = self._run([item for item, _ in batch])
            except BaseException as exc:  # never leave a task thread waiting forever
                results = [exc if isinstance(exc, Exception) else RuntimeError(str(exc))] * len(batch)
            for (_, future), result in zip(batch, results, strict=True):
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)
