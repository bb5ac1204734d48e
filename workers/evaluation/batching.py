"""Several jobs per scoring call: the evaluation worker's task threads meet here.

An evaluation worker runs a thread pool with a prefetch of several messages. Each task
thread reads its job and hands it to the process's one `ScoringCollector`; the
collector's thread takes every job waiting for the same embedding model (up to
`max_drafts` drafts), scores them with `score_jobs` (one batched embedding pass), and
hands each thread its own job's scores to record. Jobs that arrive while a batch is
being scored wait for the next one, so the collector batches under load without a
window; `window_s` adds one for hardware where larger batches pay (a GPU).

One thread runs the model, so a pool of threads never oversubscribes the cores with
concurrent forward passes (bench/evaluation_throughput.py measures both).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from workers.evaluation.scorer import score_jobs
from workers.evaluation.types import DraftScore, ScoringJob

logger = logging.getLogger(__name__)

ScoreJobs = Callable[[Sequence[ScoringJob], Path], list[list[DraftScore]]]


@dataclass(frozen=True)
class _Waiting:
    job: ScoringJob
    model_dir: Path
    future: Future[list[DraftScore]]


def score_splitting(score: ScoreJobs, jobs: list[ScoringJob], model_dir: Path
                    ) -> list[list[DraftScore] | Exception]:
    """Score `jobs` together; when that fails, score each alone, so an error lands on the
    job that caused it and the others still get their scores."""
    try:
        return list(score(jobs, model_dir))
    except Exception as exc:
        if len(jobs) == 1:
            return [exc]
        logger.warning("scoring %s jobs together failed; scoring each alone", len(jobs))
    return [result for job in jobs for result in score_splitting(score, [job], model_dir)]


class ScoringCollector:
    """Collects concurrent `submit` calls into `score_jobs` calls of at most `max_drafts`
    drafts (a job bigger than that is scored alone), one model folder per call."""

    def __init__(self, score: ScoreJobs = score_jobs, *, max_drafts: int, window_s: float = 0.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._score, self._max_drafts, self._window_s, self._clock = (
            score, max_drafts, window_s, clock)
        self._pending: list[_Waiting] = []
        self._arrived = threading.Condition()
        self._thread = threading.Thread(target=self._serve, name="scoring-collector",
                                        daemon=True)
        self._thread.start()

    def submit(self, job: ScoringJob, model_dir: Path) -> list[DraftScore]:
        """The job's scores, computed with whatever other jobs wait alongside it."""
        future: Future[list[DraftScore]] = Future()
        with self._arrived:
            self._pending.append(_Waiting(job, model_dir.resolve(), future))
            self._arrived.notify_all()
        return future.result()

    def _drafts(self) -> int:
        return sum(len(waiting.job.inputs) for waiting in self._pending)

    def _take_batch(self) -> list[_Waiting]:
        with self._arrived:
            self._arrived.wait_for(lambda: bool(self._pending))
            deadline = self._clock() + self._window_s
            while self._drafts() < self._max_drafts:
                left = deadline - self._clock()
                if left <= 0 or not self._arrived.wait(left):
                    break
            model_dir = self._pending[0].model_dir
            batch: list[_Waiting] = []
            drafts = 0
            for waiting in list(self._pending):
                if waiting.model_dir != model_dir:
                    continue
                if batch and drafts + len(waiting.job.inputs) > self._max_drafts:
                    break
                batch.append(waiting)
                drafts += len(waiting.job.inputs)
                self._pending.remove(waiting)
            return batch

    def _serve(self) -> None:
        while True:
            batch = self._take_batch()
            try:
                results = score_splitting(self._score, [w.job for w in batch], batch[0].model_dir)
            except BaseException as exc:  # never leave a task thread waiting forever
                results = [exc if isinstance(exc, Exception) else RuntimeError(str(exc))] * len(batch)
            for waiting, result in zip(batch, results, strict=True):
                if isinstance(result, Exception):
                    waiting.future.set_exception(result)
                else:
                    waiting.future.set_result(result)
