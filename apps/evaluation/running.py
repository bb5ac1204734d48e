"""What an evaluation worker does with a job or an edited draft it was sent: score the drafts
with the workspace's embedding model and record the scores through the services.

Idempotent: a job no longer awaiting evaluation, or a revision already scored, is left as it
is. Jobs that a worker's task threads hold at once are scored together through the process's
one `ScoringCollector` (one embedding batch), and each is recorded in its own transaction.
The evaluation worker imports this module, and so do `manage.py evaluate` and a generation
worker running the registry's evaluation suite (apps.workflow.model_suite, for the
workspace's embedding model); the scorer loads its model lazily, only where it scores.
"""

from __future__ import annotations

import logging
import random
import threading
from collections import OrderedDict
from pathlib import Path

from django.conf import settings
from django.db import OperationalError

from apps.evaluation import selectors
from apps.evaluation.services import (
    evaluation_record,
    fingerprints_store,
    revision_evaluation_record,
)
from apps.generation.recovery import job_evaluation_started
from apps.generation.services import job_fail
from workers.evaluation.batching import ScoringCollector
from workers.evaluation.embeddings import packaged_model_dir
from workers.evaluation.scorer import fingerprint_texts, score_drafts, vector_space
from workers.evaluation.types import PublishedIndex, ScoringJob

logger = logging.getLogger(__name__)

# A locked SQLite file or a restarting PostgreSQL clears within seconds; more than
# three tries (about 2 + 4 + 8 s of backoff) means something an operator must fix.
DATABASE_RETRIES = 3
# 16 jobs of 4 variants; the embedding pass runs them in chunks of 32 texts anyway.
BATCH_DRAFTS = 64

_collector: ScoringCollector | None = None
_collector_lock = threading.Lock()


def scoring_collector() -> ScoringCollector:
    """The process's one collector: every task thread's jobs meet here. No window: on CPU a
    bigger batch scores no faster (bench/evaluation_throughput.py), so a job never waits for
    company; jobs that arrive while a batch is scored share the next one."""
    global _collector
    with _collector_lock:
        if _collector is None:
            _collector = ScoringCollector(max_drafts=BATCH_DRAFTS)
        return _collector


class PublishedCache:
    """Workspaces' published pieces (per vector space) kept in the worker between jobs.

    Reading every piece's fingerprint was what grew with a workspace's history (bench/
    history_scale.py); before each job only their ids are read, and the fingerprints of pieces
    that went out since. Least recently used first out past `limit_bytes`; an index larger
    than that on its own is used, not kept."""

    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes
        self._kept: OrderedDict[tuple[int, str], PublishedIndex] = OrderedDict()
        self._lock = threading.Lock()  # task threads share it

    def index(self, *, workspace_id: int, embedding_model: str) -> PublishedIndex:
        key = (workspace_id, embedding_model)
        with self._lock:
            kept = self._kept.get(key)
        if kept is None:  # all of them, in one query
            index = selectors.published_pieces(workspace_id=workspace_id,
                                               embedding_model=embedding_model)
        else:
            index = kept.refreshed(
                selectors.published_piece_ids(workspace_id=workspace_id,
                                              embedding_model=embedding_model),
                lambda missing: selectors.published_pieces(
                    workspace_id=workspace_id, embedding_model=embedding_model,
                    piece_ids=missing))
        with self._lock:
            self._kept[key] = index
            self._kept.move_to_end(key)
            while self._kept and sum(i.nbytes for i in self._kept.values()) > self.limit_bytes:
                self._kept.popitem(last=False)
        return index

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()


published_cache = PublishedCache(settings.EVALUATION_INDEX_CACHE_MB * 2**20)


def database_retry_countdown(retries: int) -> float:
    """Backoff with jitter before the next try: 2-3 s, then 4-5 s, then 8-9 s."""
    return 2.0 ** (retries + 1) + random.uniform(0, 1)


def deployment_model_dir() -> Path:
    """AIGC_EMBEDDING_MODEL_DIR when set, else the model packaged with the platform."""
    return Path(settings.EMBEDDING_MODEL_DIR) if settings.EMBEDDING_MODEL_DIR else packaged_model_dir()


def embedding_model_dir(workspace_id: int) -> Path:
    """The workspace's model folder when it names one, else the deployment's."""
    chosen = selectors.embedding_model_dir(workspace_id=workspace_id)
    return Path(chosen) if chosen else deployment_model_dir()


def _job_score(job_id: int, worker_id: str) -> None:
    awaiting = selectors.job_awaiting_evaluation(job_id=job_id)
    if awaiting is None:
        return
    workspace_id, language = awaiting
    job_evaluation_started(job_id=job_id)  # the reconciler leaves it to this worker
    model_dir = embedding_model_dir(workspace_id)
    model = vector_space(model_dir, language)  # the lexical fallback's name where it applies
    unindexed = selectors.published_texts_unindexed(workspace_id=workspace_id,
                                                    embedding_model=model, language=language)
    if unindexed:
        fingerprints_store(workspace_id=workspace_id, embedding_model=model,
                           pieces=fingerprint_texts(unindexed, model_dir, language))
    published = published_cache.index(workspace_id=workspace_id, embedding_model=model)
    job = ScoringJob(tuple(selectors.scoring_inputs_for_job(job_id)), published)
    scores = scoring_collector().submit(job, model_dir)
    evaluation_record(job_id=job_id, scores=scores, actor_label=worker_id)


def job_evaluate(*, job_id: int, worker_id: str, retries: int) -> None:
    """Score every draft of an evaluating job and gate it; a redelivery after it was recorded
    does nothing. Published pieces not yet fingerprinted are indexed first, once.

    Raises OperationalError while `retries` is under DATABASE_RETRIES, for the task to try
    again later; after that, or on any other error, the job fails with the reason."""
    try:
        _job_score(job_id, worker_id)
    except OperationalError as exc:
        if retries < DATABASE_RETRIES:
            raise
        _fail(job_id, f"Evaluation could not reach the database: {exc}", worker_id)
    except Exception as exc:  # the model or a draft cannot be scored: a retry would fail alike
        _fail(job_id, f"Evaluation failed: {type(exc).__name__}: {exc}", worker_id)


def _fail(job_id: int, error: str, worker_id: str) -> None:
    logger.exception("evaluation of job %s failed", job_id)
    job_fail(job_id=job_id, error=error, actor_label=worker_id)


def revision_evaluate(*, draft_id: int) -> None:
    """Score a reviewer's edit (the draft's newest revision) with the metrics and hard rules
    the model's text met, so approval and the review screen see its own scores. Does nothing
    when that revision is the model's text or was scored already."""
    waiting = selectors.revision_awaiting_evaluation(draft_id=draft_id)
    if waiting is None:
        return
    workspace_id, revision_id, item = waiting
    model_dir = embedding_model_dir(workspace_id)
    model = vector_space(model_dir, item.language)
    published = published_cache.index(workspace_id=workspace_id, embedding_model=model)
    (score,) = score_drafts([item], model_dir, published)
    revision_evaluation_record(revision_id=revision_id, score=score)
