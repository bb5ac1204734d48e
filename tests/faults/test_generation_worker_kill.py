"""A generation worker killed mid-job (SIGKILL, no chance to clean up) costs nothing but time.

Real processes on the real broker and database: the job's worker dies while
writing; the sweeper, run as a task on the generation queue, sees the stopped
heartbeat and requeues the job; a replacement worker (a thread pool serving
its jobs in shared batches) claims it and writes it again. The job ends up
generated once, with exactly one draft per variant.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection

from aigc_platform.celery import app as celery_app
from aigc_platform.processes import GPU_QUEUES, ManagedProcess, database_url, worker_command
from aigc_platform.stack import WORKER_READY, platform_running
from apps.core.models import AuditEvent
from apps.generation.models import Draft, GenerationJob, JobState
from tests import factories
from tests.clients import wait_until

pytestmark = [pytest.mark.faults, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

HEARTBEAT_TIMEOUT_S = 6
# Seconds of writing on the tiny model even on an idle machine (about 50 tokens/s for two
# variants under load), so the kill lands mid-job; few enough to write again quickly.
TOKENS = 600


@pytest.fixture
def workers(django_db_blocker, tiny_models_dir, tmp_path: Path
            ) -> Iterator[tuple[list[ManagedProcess], dict[str, str], Path]]:
    with django_db_blocker.unblock():
        db_url = database_url(connection.settings_dict)
    env = {"DATABASE_URL": db_url, "AIGC_MODELS_DIR": str(tiny_models_dir),
           "AIGC_PUBLISH_DIR": str(tmp_path / "published"),
           "AIGC_JOB_HEARTBEAT_TIMEOUT_S": str(HEARTBEAT_TIMEOUT_S)}
    celery_app.control.purge()
    with platform_running(env=env, log_dir=tmp_path / "logs", timeout=180) as processes:
        yield processes, env, tmp_path / "logs"


def job_state(job_id: int) -> tuple[str, int, int]:
    job = GenerationJob.objects.get(pk=job_id)
    return job.state, job.attempts, Draft.objects.filter(job=job).count()


def test_a_worker_killed_mid_job_leaves_it_to_be_written_once_more(workers) -> None:
    processes, env, logs = workers
    gpu = next(p for p in processes if p.name == "worker-gpu")
    # given a slow job (two variants of TOKENS tokens) that a worker has started writing
    ws = factories.workspace()
    profile = factories.model_profile(ws, parameters={"max_new_tokens": TOKENS,
                                                      "min_new_tokens": TOKENS})
    brief = factories.brief(ws, factories.content_type(ws, model_profile=profile), submit=True,
                            variants=2)
    job = brief.jobs.get()
    wait_until(lambda: job_state(job.pk), lambda s: s[0] == JobState.RUNNING, 60, "running job")
    time.sleep(1.0)
    assert job_state(job.pk) == (JobState.RUNNING, 1, 0)
    # when its worker is killed outright
    os.killpg(gpu.process.pid, signal.SIGKILL)
    gpu.process.wait(timeout=10)
    # and a replacement worker starts, and the sweeper runs once the heartbeat is stale
    replacement = ManagedProcess(
        "worker-gpu-2", worker_command("worker-gpu-2", GPU_QUEUES, pool="threads", concurrency=4),
        env, logs / "worker-gpu-2.log").start()
    try:
        replacement.wait_for_log(WORKER_READY, 120)
        time.sleep(HEARTBEAT_TIMEOUT_S)
        celery_app.send_task("generation.sweep_stale_jobs")
        # then the job is claimed again and written once, one draft per variant
        state = wait_until(lambda: job_state(job.pk),
                           lambda s: s[0] in (JobState.EVALUATING, JobState.SUCCEEDED), 240,
                           "the job generated again")
        assert state[1:] == (2, 2)
        drafts = Draft.objects.filter(job_id=job.pk).order_by("variant")
        assert [(d.variant, d.completion_tokens) for d in drafts] == [(0, TOKENS), (1, TOKENS)]
        requeued = AuditEvent.objects.filter(subject_id=job.pk, action="job.queued")
        assert requeued.count() == 1
        assert "worker-gpu-2@" in GenerationJob.objects.get(pk=job.pk).worker_id
    finally:
        replacement.stop()
