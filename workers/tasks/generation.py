"""Celery entrypoints of the generation queue: each hands its ids to one service of
`apps.generation.running` (claim, run the engine, record), or of `apps.workflow.model_suite`
for the registry's evaluation suite, and keeps only Celery's options."""

from __future__ import annotations

import os
import socket
import threading
from datetime import timedelta
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from apps.generation.running import (
    BUSY_MAX_RETRIES,
    busy_retry_countdown,
    job_run,
    profile_check_run,
    training_run_execute,
)
from apps.generation.services import ConcurrencyLimitReached, jobs_requeue_stale
from apps.publishing.selectors import published_texts
from apps.workflow.model_suite import suite_run_execute


def worker_label(task: Any, *, per_thread: bool = False) -> str:
    """host:pid, and the thread under a thread pool, whose threads each hold a job."""
    label = f"{task.request.hostname or socket.gethostname()}:{os.getpid()}"
    return f"{label}:{threading.current_thread().name}" if per_thread else label


@shared_task(
    bind=True, name="generation.run_job", acks_late=True, reject_on_worker_lost=True,
    # Before the claim commits the job is still queued, so a whole-task retry is safe.
    autoretry_for=(OperationalError, OSError), max_retries=5, retry_backoff=2,
    retry_backoff_max=60, retry_jitter=True,
)
def run_job(self: Any, job_id: int) -> str:
    """Write and record the most urgent queued job (`job_run`); a workspace at its
    concurrency limit is looked at again later, for up to an hour."""
    try:
        return job_run(job_id=job_id, worker_id=worker_label(self, per_thread=True),
                       busy_retries=self.request.retries)
    except ConcurrencyLimitReached as exc:
        raise self.retry(countdown=busy_retry_countdown(), max_retries=BUSY_MAX_RETRIES) from exc


@shared_task(name="generation.sweep_stale_jobs")
def sweep_stale_jobs() -> list[int]:
    return jobs_requeue_stale(older_than=timedelta(seconds=settings.JOB_HEARTBEAT_TIMEOUT_S))


@shared_task(bind=True, name="generation.train", acks_late=True, reject_on_worker_lost=True)
def train(self: Any, run_id: int) -> str:
    """Train or fine-tune a queued run (`training_run_execute`)."""
    return training_run_execute(run_id=run_id, worker_id=worker_label(self),
                                published=published_texts)


@shared_task(bind=True, name="generation.evaluate_version", acks_late=True,
             reject_on_worker_lost=True)
def evaluate_version(self: Any, run_id: int) -> str:
    """Run the evaluation suite on a model version (`suite_run_execute`)."""
    return suite_run_execute(run_id=run_id, worker_id=worker_label(self, per_thread=True))


@shared_task(bind=True, name="generation.check_profile", acks_late=True,
             reject_on_worker_lost=True)
def check_profile(self: Any, check_id: int) -> str:
    """Run a model profile's test generation (`profile_check_run`)."""
    return profile_check_run(check_id=check_id, worker_id=worker_label(self, per_thread=True))
