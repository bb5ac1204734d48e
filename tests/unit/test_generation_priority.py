"""Brief priority orders generation, and a model profile's queue routes its jobs, on any broker."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from aigc_platform.celery import app as celery_app
from apps.core import pipeline
from apps.core.models import OutboxEvent
from apps.generation.models import GenerationJob, GenerationQuota, JobState
from apps.generation.services import (
    ConcurrencyLimitReached,
    job_claim_most_urgent,
    jobs_requeue_stale,
)
from apps.workflow.services import job_cancel
from tests import factories
from tests.clients import wait_until

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def gpu_large_queue(settings) -> None:
    """The deployment runs workers for a large model's own queue."""
    settings.GENERATION_QUEUES = ["gpu-large"]


def queued_job(ws, priority: int = 0, ct=None) -> GenerationJob:
    return factories.brief(ws, ct, priority=priority, submit=True).jobs.get()


def test_a_message_runs_a_more_urgent_job_first_and_its_own_job_keeps_a_turn():
    # given an ordinary job queued before an urgent one
    ws = factories.workspace()
    ordinary, urgent = queued_job(ws, priority=0), queued_job(ws, priority=50)
    # when the ordinary job's message arrives first, then the urgent job's
    first = job_claim_most_urgent(job_id=ordinary.pk, worker_id="w1")
    second = job_claim_most_urgent(job_id=urgent.pk, worker_id="w1")
    # then the urgent job ran first and the ordinary one took the urgent one's message
    assert (first.pk, second.pk) == (urgent.pk, ordinary.pk)
    assert job_claim_most_urgent(job_id=ordinary.pk, worker_id="w1") is None  # a redelivery


def test_equal_priorities_keep_each_message_on_its_own_job():
    ws = factories.workspace()
    older, newer = queued_job(ws), queued_job(ws)
    claimed = job_claim_most_urgent(job_id=newer.pk, worker_id="w1")
    assert claimed.pk == newer.pk
    assert GenerationJob.objects.get(pk=older.pk).state == JobState.QUEUED


def test_among_urgent_jobs_the_highest_priority_then_the_oldest_runs():
    ws = factories.workspace()
    low = queued_job(ws, priority=-10)
    high_old, highest, high_new = queued_job(ws, 20), queued_job(ws, 90), queued_job(ws, 20)
    order = [job_claim_most_urgent(job_id=low.pk, worker_id="w1").pk for _ in range(4)]
    assert order == [highest.pk, high_old.pk, high_new.pk, low.pk]


def test_a_message_whose_job_was_cancelled_runs_the_next_queued_job():
    ws = factories.workspace()
    cancelled, waiting = queued_job(ws, priority=10), queued_job(ws, priority=0)
    job_cancel(workspace_id=ws.pk, job_id=cancelled.pk)
    assert job_claim_most_urgent(job_id=cancelled.pk, worker_id="w1").pk == waiting.pk


def test_jobs_of_another_queue_are_left_to_that_queues_workers():
    ws = factories.workspace()
    factories.model_profile(ws)  # the workspace's default profile, on the generation queue
    big = factories.content_type(ws, model_profile=factories.model_profile(ws, queue="gpu-large"))
    elsewhere = queued_job(ws, priority=99, ct=big)
    here = queued_job(ws, priority=0)
    assert job_claim_most_urgent(job_id=here.pk, worker_id="w1").pk == here.pk
    assert GenerationJob.objects.get(pk=elsewhere.pk).state == JobState.QUEUED


def test_an_urgent_job_of_a_workspace_at_its_cap_waits_and_the_message_runs_its_own():
    busy_ws, ws = factories.workspace(), factories.workspace()
    GenerationQuota.objects.create(workspace=busy_ws, max_running_jobs=1)
    job_claim_most_urgent(job_id=queued_job(busy_ws).pk, worker_id="w1")  # takes busy_ws's slot
    blocked, own = queued_job(busy_ws, priority=80), queued_job(ws, priority=0)
    assert job_claim_most_urgent(job_id=own.pk, worker_id="w2").pk == own.pk
    # and a message with only capped work left waits (retries later) instead of being dropped
    with pytest.raises(ConcurrencyLimitReached):
        job_claim_most_urgent(job_id=own.pk, worker_id="w3")
    assert GenerationJob.objects.get(pk=blocked.pk).state == JobState.QUEUED


def test_queued_events_name_the_model_profiles_queue_also_when_requeued():
    ws = factories.workspace()
    big = factories.content_type(ws, model_profile=factories.model_profile(ws, queue="gpu-large"))
    job = queued_job(ws, ct=big)
    job_claim_most_urgent(job_id=job.pk, worker_id="dead")
    GenerationJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    jobs_requeue_stale(older_than=timedelta(seconds=30))
    queued = OutboxEvent.objects.filter(type="job.queued", subject_id=job.pk).order_by("id")
    assert [e.payload["queue"] for e in queued] == ["gpu-large", "gpu-large"]


def test_the_relay_sends_a_queued_jobs_message_to_its_profiles_queue():
    # the real broker of the test session (embedded Valkey, or REDIS_URL/CELERY_BROKER_URL),
    # with the queue declared as Celery's producer declares a profile's queue
    queue = celery_app.amqp.queues["gpu-priority-test"]
    with celery_app.connection_for_write() as connection:
        bound = queue(connection.default_channel)
        bound.declare()
        pipeline.dispatch("job.queued", 4242, {"queue": "gpu-priority-test"})
        try:  # RabbitMQ routes a publish from another connection a moment later
            waiting = wait_until(lambda: bound.queue_declare(passive=True).message_count,
                                 lambda count: count == 1, 10, "the message on the profile's queue")
        finally:
            bound.delete()
    assert waiting == 1
