"""Queued and evaluating jobs whose message was lost are sent again.

A message is lost when the broker restarts empty, or when a worker dies holding it and the
broker keeps it unacknowledged until its visibility timeout (22 minutes by default). The
reconciler compares what the broker holds with the jobs waiting, and sends again what is
missing; every claim is an atomic state update, so a message too many does nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from apps.core import pipeline
from apps.core.leases import leases_hold, leases_take
from apps.generation.models import GenerationJob, JobState
from apps.generation.services import jobs_on_queue

EVALUATION_LEASE = "evaluation"
BATCH = 500  # jobs sent again per queue and run; the next run sends the rest


def jobs_queued_resend(*, waiting: Mapping[str, int], older_than: timedelta) -> list[int]:
    """Send messages again for queued jobs that have none; the ids of the jobs sent for.

    `waiting` is the number of messages ready on each generation queue. Every queued job
    was sent one message on its queue, and a queue's messages are interchangeable (each
    claims the most urgent job queued there), so a queue holding fewer messages than it
    has jobs queued longer than `older_than` lost the difference: that many are sent again,
    for its jobs queued longest. Jobs queued since are left out, their messages possibly on
    their way. A message a worker has taken but not started counts as missing, so a few
    too many may go: they find no queued job, or the most urgent one, and either is right.
    """
    cutoff = timezone.now() - older_than
    sent: list[int] = []
    for queue, ready in waiting.items():
        stale = GenerationJob.objects.filter(jobs_on_queue(queue), state=JobState.QUEUED,
                                             updated_at__lt=cutoff)
        missing = min(stale.count() - ready, BATCH)
        if missing <= 0:
            continue
        ids = list(stale.order_by("id").values_list("id", flat=True)[:missing])
        for job_id in ids:
            pipeline.dispatch("job.queued", job_id, {"queue": queue})
        sent += ids
    return sent


def jobs_evaluating_resend(*, waiting: int, older_than: timedelta) -> list[int]:
    """Send `evaluation.evaluate_job` again for jobs evaluating longer than `older_than`,
    when the evaluation queue holds fewer messages (`waiting`) than jobs are evaluating;
    the ids of the jobs sent for.

    A job's evaluation message is its own, and which one is missing cannot be told, so
    each job evaluating that long is sent once more, at most once per `older_than` (a
    lease), unless a worker started evaluating it within AIGC_RESEND_AFTER_S (its lease,
    job_evaluation_started). An evaluation that does finish first leaves the other
    message nothing to do.
    """
    evaluating = GenerationJob.objects.filter(state=JobState.EVALUATING)
    if evaluating.count() <= waiting:
        return []
    stale = evaluating.filter(updated_at__lt=timezone.now() - older_than).order_by("id")
    ids = leases_take(kind=EVALUATION_LEASE, ids=stale.values_list("id", flat=True)[:BATCH],
                      seconds=older_than.total_seconds())
    for job_id in ids:
        pipeline.dispatch("job.evaluating", job_id)
    return ids


def job_evaluation_started(*, job_id: int) -> None:
    """A worker evaluates the job: the reconciler sends it no other message for
    AIGC_RESEND_AFTER_S. A worker killed meanwhile leaves the job to it after that, not
    after the broker's visibility timeout."""
    leases_hold(kind=EVALUATION_LEASE, ids=[job_id], seconds=settings.RESEND_AFTER_S)
