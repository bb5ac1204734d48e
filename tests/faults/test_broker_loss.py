"""A broker that loses its queues loses no work: the reconciler sends the lost messages again.

Real worker processes on the real broker and database. Jobs wait for generation and for
evaluation while their workers are down; the queues are then emptied (a broker restarted
without its messages); the workers come back, and the reconciler, run by beat, finds the
jobs that have no message and sends them again. Each job is generated once.
"""

from __future__ import annotations

import pytest

from aigc_platform.celery import app as celery_app
from aigc_platform.processes import (
    CPU_QUEUES,
    GPU_QUEUES,
    IO_QUEUES,
    ManagedProcess,
    worker_command,
)
from aigc_platform.queues import Queue
from aigc_platform.stack import WORKER_READY
from apps.briefs.models import BriefState, ContentBrief
from apps.core.broker import messages_waiting
from apps.generation.models import Draft, GenerationJob, JobState
from tests import factories
from tests.clients import wait_until

pytestmark = [pytest.mark.faults, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

def states(brief_ids: list[int]) -> list[str]:
    return [ContentBrief.objects.get(pk=pk).state for pk in brief_ids]


def test_jobs_whose_messages_the_broker_lost_are_sent_again_and_generated_once(platform):
    processes, env, logs = platform
    gpu, cpu_io = (next(p for p in processes if p.name == name)
                   for name in ("worker-gpu", "worker-cpu-io"))
    ws = factories.workspace()
    profile = factories.model_profile(ws, parameters={"max_new_tokens": 24})
    content_type = factories.content_type(ws, model_profile=profile)
    # given two jobs generated but not evaluated (the evaluation worker, which also runs
    # beat and so the reconciler, is down)
    cpu_io.stop()
    evaluating = [factories.brief(ws, content_type, submit=True, variants=1).pk for _ in range(2)]
    wait_until(lambda: list(GenerationJob.objects.filter(brief_id__in=evaluating)
                            .values_list("state", flat=True)),
               lambda s: s == [JobState.EVALUATING] * 2, 120, "two jobs evaluating")
    # and two jobs queued while the generation worker is down too
    gpu.stop()
    queued = [factories.brief(ws, content_type, submit=True, variants=1).pk for _ in range(2)]
    # when the broker loses every message it held (once it holds all four: RabbitMQ hands
    # back a stopped worker's unacknowledged messages a moment after its channel closes)
    wait_until(lambda: sum(messages_waiting([Queue.GENERATION.value, Queue.EVALUATION.value])
                           .values()), lambda n: n >= 4, 30, "the four messages waiting")
    assert celery_app.control.purge() >= 4
    # and the workers come back
    replacements = [
        ManagedProcess("worker-gpu-2", worker_command("worker-gpu-2", GPU_QUEUES, pool="threads",
                                                      concurrency=4), env,
                       logs / "worker-gpu-2.log").start(),
        ManagedProcess("worker-cpu-io-2", worker_command(
            "worker-cpu-io-2", CPU_QUEUES + IO_QUEUES, pool="threads", concurrency=4, beat=True),
            env, logs / "worker-cpu-io-2.log").start(),
    ]
    try:
        for worker in replacements:
            worker.wait_for_log(WORKER_READY, 120)
        # then every brief reaches review, each job generated once with its one draft
        wait_until(lambda: states(evaluating + queued),
                   lambda s: s == [BriefState.IN_REVIEW] * 4, 180, "all four briefs in review")
        jobs = GenerationJob.objects.filter(brief_id__in=evaluating + queued)
        assert sorted(jobs.values_list("state", "attempts")) == [(JobState.SUCCEEDED, 1)] * 4
        assert Draft.objects.filter(job__in=jobs).count() == 4
    finally:
        for worker in replacements:
            worker.stop()
