"""An evaluation worker killed mid-evaluation (SIGKILL) costs time, never the job.

Real processes on the real broker and database. The worker that scores drafts (it also
runs beat) is killed while it holds a job's evaluation: its message stays unacknowledged
in the broker until the visibility timeout (22 minutes by default). A replacement starts;
its reconciler sees the job evaluating with no message waiting and no worker's lease on
it, and sends it again after AIGC_RESEND_AFTER_S. The job is scored once, its brief
reaches review, and it was generated once.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
from django.core.cache import cache
from django.db import connection

from aigc_platform.processes import (
    CPU_QUEUES,
    IO_QUEUES,
    ManagedProcess,
    worker_command,
)
from aigc_platform.stack import WORKER_READY
from apps.briefs.models import BriefState, ContentBrief
from apps.evaluation.models import Evaluation
from apps.generation.models import Draft, GenerationJob, JobState
from apps.generation.recovery import EVALUATION_LEASE
from tests import factories
from tests.clients import wait_until
from tests.faults.invariants import invariants

pytestmark = [pytest.mark.faults, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

def test_an_evaluation_worker_killed_mid_evaluation_leaves_the_job_scored_once(platform):
    processes, env, logs = platform
    cpu_io = next(p for p in processes if p.name == "worker-cpu-io")
    ws = factories.workspace()
    profile = factories.model_profile(ws, parameters={"max_new_tokens": 48})
    content_type = factories.content_type(ws, model_profile=profile)
    # given a job whose drafts a worker has started scoring (it holds the job's lease)
    brief = factories.brief(ws, content_type, submit=True, variants=3)
    job = brief.jobs.get()
    wait_until(lambda: cache.get(f"lease:{EVALUATION_LEASE}:{job.pk}"), lambda held: held, 120,
               "the evaluation started")
    # when that worker is killed outright, mid-evaluation
    os.killpg(cpu_io.process.pid, signal.SIGKILL)
    cpu_io.process.wait(timeout=10)
    killed_at = time.monotonic()
    assert GenerationJob.objects.get(pk=job.pk).state == JobState.EVALUATING
    # and a replacement starts (beat, and so the reconciler, with it)
    replacement = ManagedProcess("worker-cpu-io-2", worker_command(
        "worker-cpu-io-2", CPU_QUEUES + IO_QUEUES, pool="threads", concurrency=4, beat=True),
        env, logs / "worker-cpu-io-2.log").start()
    try:
        replacement.wait_for_log(WORKER_READY, 120)
        # then the job is scored again, once, and its brief reaches review
        wait_until(lambda: ContentBrief.objects.get(pk=brief.pk).state,
                   lambda state: state == BriefState.IN_REVIEW, 120, "the brief in review")
        recovery_s = time.monotonic() - killed_at
    finally:
        replacement.stop()
    job.refresh_from_db()
    assert (job.state, job.attempts) == (JobState.SUCCEEDED, 1)
    drafts = Draft.objects.filter(job=job)
    assert drafts.count() == 3
    assert Evaluation.objects.filter(draft__in=drafts).count() == 3
    assert invariants(connection.cursor(), ws.pk).broken() == {}
    # bounded: the lease's AIGC_RESEND_AFTER_S, a reconciler run, a worker's start and scoring
    assert recovery_s < 120
