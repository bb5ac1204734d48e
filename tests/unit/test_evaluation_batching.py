"""Several jobs per scoring call: the same scores as one job at a time, each job recorded once."""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from apps.core.models import AuditEvent
from apps.evaluation import running
from apps.evaluation.models import Evaluation
from apps.generation.models import GenerationJob, JobState
from tests.unit.test_evaluation_task import drafted_job
from workers.evaluation import embeddings
from workers.evaluation.batching import ScoringCollector
from workers.evaluation.scorer import fingerprint_texts, score_drafts, score_jobs
from workers.evaluation.types import DraftScore, PublishedIndex, ScoringInput, ScoringJob
from workers.tasks.evaluation import evaluate_job

COMPOST = "Composting at home\nhow to start composting kitchen scraps\ncompost, garden"
CYCLING = "Cycling to work\nwhy commuting by bike is healthy\nbike, commute"
TEA = "绿茶\n如何泡一杯好喝的绿茶\n茶, 水温"


@pytest.fixture(scope="module")
def model_dir() -> Path:
    return embeddings.packaged_model_dir()


def jobs(model_dir: Path) -> list[ScoringJob]:
    """Three jobs of different lengths and languages (the lexical fallback for Chinese), one
    with source material (sentence embeddings), each with its own published pieces."""
    compost = [
        "Composting turns kitchen scraps into food for your garden. Keep the heap damp.",
        "Pick a shady corner, set up a small bin and layer peelings with dry leaves, then "
        "turn the pile every week or two so air reaches the middle of the heap.",
        "The central bank raised its main interest rate by half a percentage point.",
    ]
    cycling = [
        "Riding a bike to work keeps you fit and saves money on the bus. Wear a helmet.",
        "A sponge cake needs eggs, sugar and flour beaten until light.",
    ]
    tea = ["泡绿茶的水温最好在八十度左右。先温杯，再放茶叶，第一泡不要太久。"]
    source = "Cyclists live longer on average. A helmet halves the risk of head injury."
    return [
        ScoringJob(tuple(ScoringInput(draft_id=10 + n, brief_text=COMPOST, draft_text=text,
                                      target_length=30, keywords=("compost",), job_id=1,
                                      reference_texts=(compost[1],))
                         for n, text in enumerate(compost)),
                   PublishedIndex.of(fingerprint_texts([(1, compost[0])], model_dir, "en"))),
        ScoringJob(tuple(ScoringInput(draft_id=20 + n, brief_text=CYCLING, draft_text=text,
                                      target_length=20, source_material=source, job_id=2)
                         for n, text in enumerate(cycling))),
        ScoringJob(tuple(ScoringInput(draft_id=30 + n, brief_text=TEA, draft_text=text,
                                      target_length=40, job_id=3, language="zh")
                         for n, text in enumerate(tea)),
                   PublishedIndex.of(fingerprint_texts([(2, tea[0])], model_dir, "zh"))),
    ]


def numbers_close(ours: Any, theirs: Any) -> bool:
    """Equal, floats within 1e-6: a text padded in a larger batch may round its last bits
    differently in the model's matrix products."""
    if isinstance(ours, float) and isinstance(theirs, float):
        return math.isclose(ours, theirs, rel_tol=1e-6, abs_tol=1e-6)
    if isinstance(ours, dict) and isinstance(theirs, dict):
        return ours.keys() == theirs.keys() and all(numbers_close(ours[k], theirs[k]) for k in ours)
    if isinstance(ours, list | tuple) and isinstance(theirs, list | tuple):
        return len(ours) == len(theirs) and all(map(numbers_close, ours, theirs))
    return bool(ours == theirs)


def same_scores(ours: Sequence[DraftScore], theirs: Sequence[DraftScore]) -> bool:
    return all(numbers_close(vars(a), vars(b)) for a, b in zip(ours, theirs, strict=True))


def test_jobs_scored_together_score_as_each_alone(model_dir: Path) -> None:
    # Given three jobs, each scored alone with nothing in the embedding cache
    given = jobs(model_dir)
    alone = []
    for job in given:
        embeddings.embedding_cache_clear()
        alone.append(score_drafts(job.inputs, model_dir, job.published))
    # When they are scored in one call, again from an empty cache
    embeddings.embedding_cache_clear()
    together = score_jobs(given, model_dir)
    # Then every job gets its own drafts' scores, as alone
    assert [[s.draft_id for s in scores] for scores in together] == [[10, 11, 12], [20, 21], [30]]
    assert all(same_scores(t, a) for t, a in zip(together, alone, strict=True))
    # and each job's metrics are its own: the first draft duplicates its workspace's piece,
    # sibling similarity and grounding stay within the job
    assert together[0][0].metrics["duplicate_overlap_of"] == 1
    assert together[2][0].metrics["duplicate_overlap_of"] == 2
    assert together[2][0].metrics["variant_similarity"] is None
    assert [s.metrics["grounding"] for s in together[1]] == [0.5, 0.0]


def test_the_collector_scores_jobs_waiting_together_in_one_call(model_dir: Path) -> None:
    # Given a collector that records its calls, busy with a first job while three arrive
    calls: list[list[int]] = []
    started, release = threading.Event(), threading.Event()

    def score(batch: Sequence[ScoringJob], folder: Path) -> list[list[DraftScore]]:
        calls.append([job.inputs[0].job_id for job in batch])
        started.set()
        release.wait(10)
        return score_jobs(batch, folder)

    collector = ScoringCollector(score, max_drafts=64)
    given = jobs(model_dir)
    first = ScoringJob((ScoringInput(draft_id=1, brief_text=COMPOST, draft_text="Compost it.",
                                     target_length=5, job_id=0),))
    with ThreadPoolExecutor(max_workers=4) as pool:
        head = pool.submit(collector.submit, first, model_dir)
        assert started.wait(10)
        rest = []
        for job in given:  # one at a time: threads started together queue in any order
            waited = collector.waiting() + len(job.inputs)
            rest.append(pool.submit(collector.submit, job, model_dir))
            while collector.waiting() < waited:
                threading.Event().wait(0.01)
        release.set()
        # When the first call ends
        results = [future.result(30) for future in [head, *rest]]
    # Then the three that waited were scored together, each thread given its own job's scores
    assert calls == [[0], [1, 2, 3]]
    assert [[s.draft_id for s in scores] for scores in results] == [[1], [10, 11, 12], [20, 21], [30]]


def test_a_job_that_cannot_be_scored_fails_alone(model_dir: Path, tmp_path: Path) -> None:
    # Given a scorer that fails any call holding job 2
    def score(batch: Sequence[ScoringJob], folder: Path) -> list[list[DraftScore]]:
        if any(job.inputs[0].job_id == 2 for job in batch):
            raise ValueError("draft 20 cannot be scored")
        return score_jobs(batch, folder)

    given = jobs(model_dir)
    collector = ScoringCollector(score, max_drafts=64, window_s=1.0)
    # When three jobs arrive together
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = [pool.submit(collector.submit, job, model_dir) for job in given]
        # Then job 2's thread gets the error and the others their scores
        assert [s.draft_id for s in futures[0].result(30)] == [10, 11, 12]
        with pytest.raises(ValueError, match="draft 20 cannot be scored"):
            futures[1].result(30)
        assert [s.draft_id for s in futures[2].result(30)] == [30]


@pytest.mark.django_db(transaction=True)
def test_jobs_arriving_together_are_scored_in_one_batch_and_each_recorded_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given three evaluating jobs of two drafts, and a worker collector that waits for four
    # jobs' drafts
    given = [drafted_job() for _ in range(3)]
    batches: list[int] = []

    def counted(batch: Sequence[ScoringJob], folder: Path) -> list[list[DraftScore]]:
        batches.append(len(batch))
        return score_jobs(batch, folder)

    monkeypatch.setattr(running, "_collector",
                        ScoringCollector(counted, max_drafts=8, window_s=30.0))
    # When the three messages, and a redelivery of the first, are run by the real task on
    # four threads at once
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda job_id: evaluate_job.apply(args=[job_id], throw=True),
                      [job.pk for job in given] + [given[0].pk]))
    # Then the four were scored in one call, and every job succeeded once, its two drafts
    # evaluated once
    assert batches == [4]
    for job in given:
        job.refresh_from_db()
        assert job.state == JobState.SUCCEEDED
        assert Evaluation.objects.filter(draft__job=job).count() == 2
        assert AuditEvent.objects.filter(action="job.succeeded", subject_id=job.pk).count() == 1
    assert GenerationJob.objects.filter(state=JobState.SUCCEEDED).count() == 3
