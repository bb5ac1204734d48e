"""The generation worker's tasks, run eagerly against the real database and channel layer."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.utils import timezone

from apps.briefs.models import BriefState
from apps.generation.models import Draft, GenerationJob, JobState
from apps.generation.running import job_watch
from apps.generation.services import job_claim
from apps.reviews.models import DraftRevision
from apps.workflow.services import brief_cancel
from tests import factories
from tests.generation_fixtures import receive_all
from workers.generation.builtin.plan import TrainingReport
from workers.generation.engine import InvalidRequest
from workers.generation.progress import ProgressThrottle, TextProgress
from workers.generation.requests import request_for_job
from workers.tasks.generation import run_job, sweep_stale_jobs


def submitted_job(**profile: object) -> GenerationJob:
    ws = factories.workspace()
    factories.model_profile(ws, **profile)
    brief = factories.brief(ws, submit=True)
    return GenerationJob.objects.get(brief=brief)


@pytest.mark.django_db(transaction=True)
def test_run_job_records_one_draft_per_variant_once(
    settings, tiny_models_dir: Path, tiny_training: TrainingReport
) -> None:
    # given a submitted brief whose job asks for two variants of 24 tokens
    settings.MODELS_DIR = tiny_models_dir
    job = submitted_job(parameters={"max_new_tokens": 24, "min_new_tokens": 24})
    # when a worker runs it
    assert run_job.apply(args=(job.pk,)).get() == "recorded"
    # then both drafts exist with their first revision and the job awaits evaluation
    job.refresh_from_db()
    drafts = list(Draft.objects.filter(job=job).order_by("variant"))
    assert job.state == JobState.EVALUATING
    assert [d.variant for d in drafts] == [0, 1]
    assert [d.seed for d in drafts] == [job.pk * 1000, job.pk * 1000 + 1]
    assert [d.completion_tokens for d in drafts] == [24, 24]
    assert {(d.model_name, d.model_revision) for d in drafts} == {
        ("builtin", tiny_training.revision)}
    assert job.completion_tokens == 48
    assert job.prompt_tokens == 2 * drafts[0].prompt_tokens > 0
    assert all(d.text for d in drafts)
    assert list(DraftRevision.objects.filter(draft__job=job).values_list("number", flat=True)) \
        == [1, 1]
    assert job.brief.state == BriefState.GENERATING
    # and a second delivery of the same message changes nothing
    assert run_job.apply(args=(job.pk,)).get() == "skipped"
    assert Draft.objects.filter(job=job).count() == 2


@pytest.mark.django_db(transaction=True)
def test_progress_reaches_channel_layer_subscribers(
    settings, tiny_models_dir: Path
) -> None:
    # given a subscriber to the job's group
    settings.MODELS_DIR = tiny_models_dir
    job = submitted_job(parameters={"max_new_tokens": 30, "min_new_tokens": 30})
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(f"job.{job.pk}", channel)
    # when the job runs
    run_job.apply(args=(job.pk,)).get()
    # then it received job.progress events that end with each draft's text
    events = [m["event"] for m in receive_all(channel) if m["event"]["type"] == "job.progress"]
    assert events, "no job.progress event arrived"
    assert {e["subject"]["id"] for e in events} == {job.pk}
    assert {e["subject"]["type"] for e in events} == {"generationjob"}
    assert set(events[0]["data"]) == {"job_id", "brief_id", "variant", "text", "tokens",
                                      "max_new_tokens"}
    # and each says how far it is: tokens written of the profile's max_new_tokens
    assert {e["data"]["max_new_tokens"] for e in events} == {30}
    assert max(e["data"]["tokens"] for e in events) == 30
    last = {e["data"]["variant"]: e["data"]["text"].strip() for e in events}
    assert last == {d.variant: d.text for d in Draft.objects.filter(job=job)}


@pytest.mark.django_db(transaction=True)
def test_a_missing_model_fails_the_job_with_what_to_do(settings, tmp_path: Path) -> None:
    settings.MODELS_DIR = tmp_path
    job = submitted_job()
    assert run_job.apply(args=(job.pk,)).get() == "failed"
    job.refresh_from_db()
    assert job.state == JobState.FAILED
    assert "Run `python manage.py train_model`" in job.error
    assert job.brief.state == BriefState.FAILED


@pytest.mark.django_db(transaction=True)
def test_bad_profile_parameters_fail_the_job(settings, tiny_models_dir: Path) -> None:
    settings.MODELS_DIR = tiny_models_dir
    job = submitted_job(parameters={"temperature": "hot"})
    run_job.apply(args=(job.pk,)).get()
    job.refresh_from_db()
    assert job.state == JobState.FAILED
    assert job.error == "Model profile parameter 'temperature' must be a number from 0 to 5, " \
        "got 'hot'."


@pytest.mark.django_db(transaction=True)
def test_the_watch_heartbeats_and_stops_when_the_job_is_cancelled() -> None:
    # given a running job and a watch on a clock the test moves
    job = submitted_job()
    job_claim(job_id=job.pk, worker_id="w1")
    now = [0.0]
    watch = job_watch(job.pk, "w1", clock=lambda: now[0])
    before = GenerationJob.objects.get(pk=job.pk).heartbeat_at
    now[0] = 5.0
    assert watch.should_stop() is False
    assert GenerationJob.objects.get(pk=job.pk).heartbeat_at > before
    # when the brief is cancelled, then the next check (half a second on) says stop
    brief_cancel(brief=job.brief)
    now[0] = 5.2
    assert watch.should_stop() is False
    now[0] = 5.6
    assert watch.should_stop() is True


@pytest.mark.django_db(transaction=True)
def test_the_sweeper_requeues_jobs_whose_heartbeat_stopped(settings) -> None:
    job = submitted_job()
    job_claim(job_id=job.pk, worker_id="w1")
    stale = timezone.now() - timedelta(seconds=settings.JOB_HEARTBEAT_TIMEOUT_S + 1)
    GenerationJob.objects.filter(pk=job.pk).update(heartbeat_at=stale)
    assert sweep_stale_jobs.apply().get() == [job.pk]
    assert GenerationJob.objects.get(pk=job.pk).state == JobState.QUEUED


def test_the_throttle_sends_at_most_its_rate_and_flushes_the_latest_texts() -> None:
    now = [0.0]
    sent: list[tuple[float, int, str, int]] = []
    throttle = ProgressThrottle(lambda v, p: sent.append((now[0], v, p.text, p.tokens)), 10,
                                clock=lambda: now[0])
    # given 3 variants each writing a token every 1/32 s for two seconds
    for step in range(1, 65):
        now[0] = step / 32
        for variant in range(3):
            throttle.offer(variant, TextProgress(text=f"v{variant} t{step}", tokens=step))
    throttle.flush()
    # then while writing every 4th step sends (0.125 s apart), the 3 flushed sends go at
    # once, the variants take turns and each one's last text arrives
    times = [t for t, *_ in sent]
    assert len(sent) == 16 + 3
    assert all(b - a >= 0.1 - 1e-9 for a, b in zip(times[:16], times[1:16], strict=False))
    assert times[16:] == [2.0, 2.0, 2.0]
    assert [v for _, v, _, _ in sent[:6]] == [0, 1, 2, 0, 1, 2]
    assert {v: (t, n) for _, v, t, n in sent} == {0: ("v0 t64", 64), 1: ("v1 t64", 64),
                                                  2: ("v2 t64", 64)}


def test_requests_default_from_the_brief_length_and_job_id() -> None:
    request = request_for_job(job_id=7, prompt="Hi", variants=3, target_words=100,
                              backend="builtin")
    assert (request.model, request.seed, request.max_new_tokens, request.min_new_tokens) == (
        "builtin", 7000, 150, 75)
    assert request_for_job(job_id=7, prompt="Hi", variants=1, target_words=5000,
                           backend=None, default_model="/models/x").max_new_tokens == 1024
    with pytest.raises(InvalidRequest, match="needs the server's model name"):
        request_for_job(job_id=7, prompt="Hi", variants=1, target_words=10, backend="openai")
    with pytest.raises(InvalidRequest, match="Unknown model backend 'llamafile'"):
        request_for_job(job_id=7, prompt="Hi", variants=1, target_words=10, backend="llamafile")
    with pytest.raises(InvalidRequest, match="needs a model folder"):
        request_for_job(job_id=7, prompt="Hi", variants=1, target_words=10,
                        backend="transformers")


def test_a_profiles_temperatures_give_each_variant_its_own() -> None:
    request = request_for_job(job_id=7, prompt="Hi", variants=3, target_words=10,
                              backend="builtin", parameters={"temperatures": [0.3, 1.1]})
    assert [request.temperature_for(v) for v in range(3)] == [0.3, 1.1, 0.3]
    with pytest.raises(InvalidRequest, match="'temperatures' must be a list of at most 16 "
                                             r"numbers from 0 to 5 \(one per variant\), got 'hot'"):
        request_for_job(job_id=7, prompt="Hi", variants=1, target_words=10, backend="builtin",
                        parameters={"temperatures": "hot"})
