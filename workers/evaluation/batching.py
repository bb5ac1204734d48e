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

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from workers.collecting import Collector, run_or_split
from workers.evaluation.scorer import score_jobs
from workers.evaluation.types import DraftScore, ScoringJob

ScoreJobs = Callable[[Sequence[ScoringJob], Path], list[list[DraftScore]]]


@dataclass(frozen=True)
class _Scoring:
    job: ScoringJob
    model_dir: Path


def score_splitting(score: ScoreJobs, jobs: list[ScoringJob], model_dir: Path
                    ) -> list[list[DraftScore] | Exception]:
    """Score `jobs` together; when that fails, score each alone, so an error lands on the
    job that caused it and the others still get their scores."""
    return run_or_split(lambda part: score(part, model_dir), jobs)


class ScoringCollector:
    """Collects concurrent `submit` calls into `score_jobs` calls of at most `max_drafts`
    drafts (a job bigger than that is scored alone), one model folder per call."""

    def __init__(self, score: ScoreJobs = score_jobs, *, max_drafts: int, window_s: float = 0.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._batches: Collector[_Scoring, list[DraftScore]] = Collector(
            lambda batch: score_splitting(score, [s.job for s in batch], batch[0].model_dir),
            key=lambda scoring: scoring.model_dir, size=lambda scoring: len(scoring.job.inputs),
            budget=max_drafts, window_s=window_s, name="scoring-collector", clock=clock)

    def submit(self, job: ScoringJob, model_dir: Path) -> list[DraftScore]:
        """The job's scores, computed with whatever other jobs wait alongside it."""
        return self._batches.submit(_Scoring(job, model_dir.resolve()))

    def waiting(self) -> int:
        """The drafts that wait for a call."""
        return self._batches.waiting()
