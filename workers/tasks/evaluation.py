"""Celery entrypoint of the evaluation queue: score a job's drafts and record them."""

from __future__ import annotations

import logging
import os
import random
import socket
from pathlib import Path

from celery import Task, shared_task
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
from workers.evaluation.embeddings import packaged_model_dir
from workers.evaluation.scorer import fingerprint_texts, score_drafts, vector_space

logger = logging.getLogger(__name__)

# A locked SQLite file or a restarting PostgreSQL clears within seconds; more than
# three tries (about 2 + 4 + 8 s of backoff) means something an operator must fix.
DATABASE_RETRIES = 3


def deployment_model_dir() -> Path:
    """AIGC_EMBEDDING_MODEL_DIR when set, else the model packaged with the platform."""
    return Path(settings.EMBEDDING_MODEL_DIR) if settings.EMBEDDING_MODEL_DIR else packaged_model_dir()


def embedding_model_dir(workspace_id: int) -> Path:
    """The workspace's model folder when it names one, else the deployment's."""
    chosen = selectors.embedding_model_dir(workspace_id=workspace_id)
    return Path(chosen) if chosen else deployment_model_dir()


def worker_label(task: Task) -> str:
    return f"{task.request.hostname or socket.gethostname()}:{os.getpid()}"


@shared_task(bind=True, name="evaluation.evaluate_job", acks_late=True,
             reject_on_worker_lost=True, max_retries=DATABASE_RETRIES)
def evaluate_job(self: Task, job_id: int) -> None:
    """Score every draft of an evaluating job and gate it; a redelivery after it was recorded
    does nothing. Published pieces not yet fingerprinted are indexed first, once."""
    worker = worker_label(self)
    try:
        workspace_id = selectors.workspace_awaiting_evaluation(job_id=job_id)
        if workspace_id is None:
            return
        job_evaluation_started(job_id=job_id)  # the reconciler leaves it to this worker
        model_dir = embedding_model_dir(workspace_id)
        language = selectors.job_language(job_id=job_id)
        model = vector_space(model_dir, language)  # the lexical fallback's name where it applies
        unindexed = selectors.published_texts_unindexed(workspace_id=workspace_id,
                                                        embedding_model=model, language=language)
        if unindexed:
            fingerprints_store(workspace_id=workspace_id, embedding_model=model,
                               pieces=fingerprint_texts(unindexed, model_dir, language))
        published = selectors.published_pieces(workspace_id=workspace_id, embedding_model=model)
        scores = score_drafts(selectors.scoring_inputs_for_job(job_id), model_dir, published)
        evaluation_record(job_id=job_id, scores=scores, actor_label=worker)
    except OperationalError as exc:
        if self.request.retries < DATABASE_RETRIES:
            delay = 2 ** (self.request.retries + 1) + random.uniform(0, 1)
            raise self.retry(exc=exc, countdown=delay) from exc
        _fail(job_id, f"Evaluation could not reach the database: {exc}", worker)
    except Exception as exc:  # the model or a draft cannot be scored: a retry would fail alike
        _fail(job_id, f"Evaluation failed: {type(exc).__name__}: {exc}", worker)


@shared_task(bind=True, name="evaluation.evaluate_revision", acks_late=True,
             reject_on_worker_lost=True, max_retries=DATABASE_RETRIES)
def evaluate_revision(self: Task, draft_id: int) -> None:
    """Score a reviewer's edit (the draft's newest revision) with the metrics and hard rules
    the model's text met, so approval and the review screen see its own scores. Does nothing
    when that revision is the model's text or was scored already."""
    try:
        waiting = selectors.revision_awaiting_evaluation(draft_id=draft_id)
        if waiting is None:
            return
        workspace_id, revision_id, item = waiting
        model_dir = embedding_model_dir(workspace_id)
        model = vector_space(model_dir, item.language)
        published = selectors.published_pieces(workspace_id=workspace_id, embedding_model=model)
        (score,) = score_drafts([item], model_dir, published)
        revision_evaluation_record(revision_id=revision_id, score=score)
    except OperationalError as exc:
        if self.request.retries < DATABASE_RETRIES:
            raise self.retry(exc=exc, countdown=2 ** (self.request.retries + 1)
                             + random.uniform(0, 1)) from exc
        raise


def _fail(job_id: int, error: str, worker: str) -> None:
    logger.exception("evaluation of job %s failed", job_id)
    job_fail(job_id=job_id, error=error, actor_label=worker)
