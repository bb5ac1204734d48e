"""The reconciler sends again what the broker lost, once; deliveries and publications are
queued once.

Messages go to the real broker; each test starts from empty queues. In these tests the
transaction never commits, so the messages a commit would send are never sent: exactly
a broker that lost them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from celery import current_app
from django.core.cache import cache
from django.utils import timezone

from aigc_platform.queues import Queue
from apps.core.broker import messages_waiting
from apps.generation.models import CheckState, GenerationJob, JobState, ModelProfile, ProfileCheck
from apps.generation.profile_checks import CHECK_EXPIRES_AFTER
from apps.generation.recovery import EVALUATION_LEASE, job_evaluation_started
from apps.generation.services import job_claim, job_record_drafts
from apps.integrations.models import Delivery
from apps.integrations.outbound import DELIVERY_LEASE, subscription_create
from apps.integrations.tasks import dispatch_due
from apps.publishing.models import TargetKind
from apps.publishing.targets import target_create
from apps.publishing.tasks import PUBLICATION_LEASE
from apps.publishing.tasks import dispatch_due as publishing_dispatch_due
from tests import factories
from tests.peers.content import approved_publications
from workers.generation.types import GeneratedText
from workers.tasks.reconcile import reconcile

pytestmark = pytest.mark.django_db

QUEUES = (Queue.GENERATION.value, Queue.EVALUATION.value, Queue.WEBHOOKS.value)
LONG_AGO = timedelta(hours=1)


def purge() -> None:
    with current_app.connection_for_write() as connection:
        for name in (*QUEUES, Queue.PUBLISHING.value):
            queue = current_app.amqp.queues[name](connection.default_channel)
            queue.declare()  # RabbitMQ refuses to purge a queue no worker has declared yet
            queue.purge()


@pytest.fixture(autouse=True)
def empty_broker_and_leases() -> Iterator[None]:
    purge()
    cache.clear()  # leases of earlier tests' rows, whose ids this test's rows may reuse
    yield
    purge()


def waiting() -> dict[str, int]:
    return messages_waiting(QUEUES)


def backdate(job: GenerationJob) -> None:
    GenerationJob.objects.filter(pk=job.pk).update(updated_at=timezone.now() - LONG_AGO)


def queued_job(ws) -> GenerationJob:  # type: ignore[no-untyped-def]
    return factories.brief(ws, submit=True).jobs.get()


def evaluating_job(ws) -> GenerationJob:  # type: ignore[no-untyped-def]
    job = queued_job(ws)
    job_claim(job_id=job.pk, worker_id="w1")
    job_record_drafts(job_id=job.pk, worker_id="w1", texts=[
        GeneratedText(variant=v, text=f"Variant {v}.", seed=v, prompt_tokens=3,
                      completion_tokens=3, model_name="builtin") for v in range(job.variants)])
    job.refresh_from_db()
    assert job.state == JobState.EVALUATING
    return job


def test_queued_jobs_without_messages_are_sent_again_once(ws):
    # given two jobs queued long ago and one just queued, none with a message
    old, older = queued_job(ws), queued_job(ws)
    queued_job(ws)
    backdate(old)
    backdate(older)
    # when the reconciler runs twice
    first = reconcile()
    second = reconcile()
    # then the two old ones got one message each, the young one none yet (its own may be
    # on its way), and the second run sent nothing more
    assert (first["queued_resent"], second["queued_resent"]) == (2, 0)
    assert waiting() == {"generation": 2, "evaluation": 0, "webhooks": 0}


def test_queued_jobs_whose_messages_wait_are_left_alone(ws):
    job = queued_job(ws)
    backdate(job)
    current_app.send_task("generation.run_job", args=[job.pk])  # its message is there
    assert reconcile()["queued_resent"] == 0
    assert waiting()["generation"] == 1


def test_an_evaluating_job_whose_message_was_lost_is_sent_again_once(ws):
    # given a job evaluating long since, whose evaluation message is gone (a worker
    # killed mid-evaluation leaves it unacknowledged for the broker's visibility timeout)
    job = evaluating_job(ws)
    backdate(job)
    # when the reconciler runs twice
    first = reconcile()
    second = reconcile()
    # then one evaluation message was sent, not two
    assert (first["evaluating_resent"], second["evaluating_resent"]) == (1, 0)
    assert waiting()["evaluation"] == 1


def test_an_evaluation_a_worker_started_recently_is_not_sent_again(ws):
    # given a job evaluating long since, which a worker has just started evaluating
    job = evaluating_job(ws)
    backdate(job)
    job_evaluation_started(job_id=job.pk)
    # then the reconciler leaves it to that worker
    assert reconcile()["evaluating_resent"] == 0
    # and sends it again once that worker's lease ran out (a worker killed mid-evaluation)
    cache.delete(f"lease:{EVALUATION_LEASE}:{job.pk}")
    assert reconcile()["evaluating_resent"] == 1


def test_a_recent_evaluating_job_is_not_sent_again(ws):
    evaluating_job(ws)
    assert reconcile()["evaluating_resent"] == 0
    assert waiting()["evaluation"] == 0


def test_a_running_job_whose_heartbeat_stopped_is_requeued(ws):
    job = queued_job(ws)
    job_claim(job_id=job.pk, worker_id="w1")
    GenerationJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - LONG_AGO)
    assert reconcile()["running_requeued"] == 1
    job.refresh_from_db()
    assert job.state == JobState.QUEUED


def test_a_delivery_is_queued_once_while_its_message_waits(
        ws, django_capture_on_commit_callbacks):
    # given a delivery whose message was sent when its event was relayed
    subscription_create(workspace=ws, name="Bot", url="https://hooks.test/in",
                        event_types=["brief.queued"])
    with django_capture_on_commit_callbacks(execute=True):
        factories.brief(ws, submit=True)
    delivery = Delivery.objects.get()
    assert waiting()["webhooks"] == 1
    # when beat's dispatch runs while that message still waits in the queue
    again = dispatch_due()
    # then it sends nothing more; once the lease runs out (a lost message), it sends it again
    assert (again, waiting()["webhooks"]) == (0, 1)
    cache.delete(f"lease:{DELIVERY_LEASE}:{delivery.pk}")
    assert (dispatch_due(), waiting()["webhooks"]) == (1, 2)
    assert (dispatch_due(), waiting()["webhooks"]) == (0, 2)


def test_a_due_publication_is_sent_once_while_its_message_waits(ws):
    # given a due publication whose message waits in the publishing queue
    target = target_create(workspace=ws, name="Site", kind=TargetKind.FILE, config={"folder": "p"})
    [publication] = approved_publications(ws, target)
    # when beat's dispatch runs again and again meanwhile
    sent = [publishing_dispatch_due() for _ in range(3)]
    # then it was sent once; once its lease runs out (a lost message), once more
    def publishing() -> int:
        return messages_waiting([Queue.PUBLISHING.value])[Queue.PUBLISHING.value]

    assert (sent, publishing()) == ([1, 0, 0], 1)
    cache.delete(f"lease:{PUBLICATION_LEASE}:{publication.pk}")
    assert (publishing_dispatch_due(), publishing()) == (1, 2)


def test_a_profile_check_no_worker_finished_in_time_is_failed_with_the_reason():
    # given a check whose message was lost (queued long ago) and one just asked for
    ws = factories.workspace()
    profile = ModelProfile.objects.create(workspace=ws, name="house")
    lost = ProfileCheck.objects.create(workspace=ws, model_profile=profile)
    ProfileCheck.objects.filter(pk=lost.pk).update(
        created_at=timezone.now() - CHECK_EXPIRES_AFTER - timedelta(seconds=1))
    fresh = ProfileCheck.objects.create(workspace=ws, model_profile=profile)
    # when the reconciler runs
    assert reconcile()["checks_expired"] == 1
    # then the lost one failed, saying why, and the fresh one still waits for its worker
    lost.refresh_from_db()
    fresh.refresh_from_db()
    assert (lost.state, fresh.state) == (CheckState.FAILED, CheckState.QUEUED)
    assert "its message was lost or its worker stopped" in lost.error
