"""A real generation worker keeps its secrets and its disk to itself.

Profiles stored straight in the database (as rows saved before the rules were)
name a worker variable off the operator's list, a cloud metadata server and
another folder of the worker; a real worker process refuses each with the
reason the editor reads, and a local OpenAI-compatible listener receives no
request and no secret. A profile within the rules reaches the same listener,
with the allowed key only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection

from aigc_platform.celery import app as celery_app
from aigc_platform.processes import GPU_QUEUES, ManagedProcess, database_url, worker_command
from aigc_platform.stack import WORKER_READY
from apps.generation.models import GenerationJob, JobState
from tests import factories
from tests.clients import wait_until
from tests.peers.openai_chat import ChatPeer
from workers.generation.locations import REFUSED

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CANARY = "canary-0f9e8d7c6b5a-must-never-leave-the-worker"
HOUSE_KEY = "sk-house-key-allowed-by-the-operator"


@pytest.fixture
def gpu_worker(django_db_blocker, tiny_models_dir: Path, tmp_path: Path
               ) -> Iterator[ManagedProcess]:
    with django_db_blocker.unblock():
        db_url = database_url(connection.settings_dict)
    # The worker holds a secret in a variable the operator did not list, and the key of the
    # house model server in one it did; loopback is allowed (tests/conftest.py), as in the demo.
    env = {"DATABASE_URL": db_url, "AIGC_MODELS_DIR": str(tiny_models_dir),
           "AIGC_LEAK_CANARY": CANARY, "HOUSE_LLM_KEY": HOUSE_KEY,
           "AIGC_MODEL_KEY_ENVS": "HOUSE_LLM_KEY"}
    celery_app.control.purge()
    worker = ManagedProcess("worker-gpu", worker_command("worker-gpu", GPU_QUEUES, pool="threads",
                                                         concurrency=4),
                            env, tmp_path / "worker-gpu.log")
    worker.start()
    try:
        worker.wait_for_log(WORKER_READY, 180)
        yield worker
    finally:
        worker.stop()


def job_for(ws, **profile: object) -> GenerationJob:
    ct = factories.content_type(ws, model_profile=factories.model_profile(
        ws, name=f"Profile {profile.get('model')}", **profile))
    return factories.brief(ws, ct, submit=True, variants=1).jobs.get()


def ended(job_id: int) -> GenerationJob:
    return wait_until(lambda: GenerationJob.objects.get(pk=job_id),
                      lambda j: j.state in (JobState.FAILED, JobState.EVALUATING,
                                            JobState.SUCCEEDED), 120, f"job {job_id} ended")


def test_the_worker_sends_no_secret_where_the_rules_say_no(gpu_worker, tmp_path: Path) -> None:
    with ChatPeer(api_key=HOUSE_KEY) as peer:
        ws = factories.workspace()
        # given profiles that name an unlisted variable, a metadata server, a folder outside
        leak = job_for(ws, backend="openai", model="leak", base_url=peer.url,
                       api_key_env="AIGC_LEAK_CANARY")
        metadata = job_for(ws, backend="openai", model="metadata",
                           base_url="http://169.254.169.254/latest/v1",
                           api_key_env="HOUSE_LLM_KEY")
        outside = job_for(ws, backend="transformers", model=str(tmp_path))
        # when the worker takes them, then each fails with its reason and nothing was sent
        assert (ended(leak.pk).state, ended(leak.pk).error) == (JobState.FAILED, (
            "Model profile 'Profile leak': The worker's environment variable "
            "'AIGC_LEAK_CANARY' is not one the operator allows for model API keys "
            "(AIGC_MODEL_KEY_ENVS: HOUSE_LLM_KEY); store the key in the profile instead."))
        assert (ended(metadata.pk).state, ended(metadata.pk).error) == (JobState.FAILED, (
            "The model server http://169.254.169.254/latest/v1 may not be reached from this "
            "worker: Refused to connect to 169.254.169.254: 169.254.169.254 is a cloud metadata "
            "address, which outbound requests may not reach (the operator can allow it with "
            "AIGC_EGRESS_ALLOW_NETWORKS)."))
        assert (ended(outside.pk).state, ended(outside.pk).error) == (JobState.FAILED, REFUSED)
        assert (peer.requests, peer.headers) == ([], [])
        # and a profile within the rules reaches the same listener with the allowed key only
        allowed = job_for(ws, backend="openai", model="house", base_url=peer.url,
                          api_key_env="HOUSE_LLM_KEY", parameters={"max_new_tokens": 3})
        assert (ended(allowed.pk).state, ended(allowed.pk).error) == (JobState.EVALUATING, "")
    assert [h["authorization"] for h in peer.headers] == [f"Bearer {HOUSE_KEY}"]
    assert [r["model"] for r in peer.requests] == ["house"]
    assert CANARY not in repr(peer.headers) + repr(peer.requests)
