"""Celery entrypoints of the evaluation queue: each hands its id to one service of
`apps.evaluation.running` (score, record) and keeps only Celery's options and retries."""

from __future__ import annotations

import os
import socket
from typing import Any

from celery import Task, shared_task
from django.db import OperationalError

from apps.evaluation.running import (
    DATABASE_RETRIES,
    database_retry_countdown,
    job_evaluate,
    revision_evaluate,
)


def worker_label(task: Task[Any, Any]) -> str:
    return f"{task.request.hostname or socket.gethostname()}:{os.getpid()}"


@shared_task(bind=True, name="evaluation.evaluate_job", acks_late=True,
             reject_on_worker_lost=True, max_retries=DATABASE_RETRIES)
def evaluate_job(self: Task[Any, Any], job_id: int) -> None:
    """Score and gate an evaluating job's drafts (`job_evaluate`)."""
    try:
        job_evaluate(job_id=job_id, worker_id=worker_label(self), retries=self.request.retries)
    except OperationalError as exc:
        raise self.retry(exc=exc, countdown=database_retry_countdown(self.request.retries)) from exc


@shared_task(bind=True, name="evaluation.evaluate_revision", acks_late=True,
             reject_on_worker_lost=True, max_retries=DATABASE_RETRIES)
def evaluate_revision(self: Task[Any, Any], draft_id: int) -> None:
    """Score a reviewer's edit (`revision_evaluate`); the database unreachable after the
    retries, the task fails."""
    try:
        revision_evaluate(draft_id=draft_id)
    except OperationalError as exc:
        if self.request.retries < DATABASE_RETRIES:
            raise self.retry(exc=exc, countdown=database_retry_countdown(self.request.retries)) from exc
        raise
