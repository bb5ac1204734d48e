"""Generation control and accounting: backends per profile, timeouts, quotas, cancel, records."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from apps.briefs.models import BriefState, PromptTemplateVersion
from apps.core.crypto import secret_decrypt, secret_encrypt
from apps.core.errors import IllegalTransition, NotFound
from apps.generation.models import Draft, GenerationJob, GenerationQuota, JobState
from apps.generation.selectors import usage_by_model, usage_by_workspace
from apps.generation.services import (
    BudgetExceeded,
    ConcurrencyLimitReached,
    job_claim,
    usage_since,
)
from apps.workflow.services import job_cancel
from tests import factories
from tests.factories import MARKDOWN
from tests.peers.openai_chat import ChatPeer, Status
from workers.generation.engine import generate, load_model, prompt_ids
from workers.generation.types import GenerationRequest
from workers.tasks.generation import run_job


def submitted_job(ws=None, **profile: object) -> GenerationJob:
    ws = ws or factories.workspace()
    factories.model_profile(ws, **profile)
    brief = factories.brief(ws, submit=True)
    return GenerationJob.objects.get(brief=brief)


@pytest.mark.django_db(transaction=True)
def test_an_openai_profile_streams_from_the_server_with_its_encrypted_key() -> None:
    with ChatPeer(Status(429, retry_after="0")) as peer:
        # given a profile pointing at an OpenAI-compatible server, its key encrypted at rest
        job = submitted_job(backend="openai", model="house-7b", base_url=peer.url,
                            api_key_encrypted=secret_encrypt(peer.api_key),
                            parameters={"max_new_tokens": 5, "temperature": 0.5})
        # when a worker runs the job
        assert run_job.apply(args=(job.pk,)).get() == "recorded"
    # then each variant is the server's text for its seed, and the 429 was retried and counted
    job.refresh_from_db()
    drafts = list(Draft.objects.filter(job=job).order_by("variant"))
    seeds = [job.pk * 1000, job.pk * 1000 + 1]
    assert [d.text for d in drafts] == [ChatPeer.text_for(s, 5) for s in seeds]
    assert [(d.model_name, d.seed, d.completion_tokens) for d in drafts] == [
        ("house-7b", seeds[0], 5), ("house-7b", seeds[1], 5)]
    assert (job.state, job.completion_tokens, job.retries) == (JobState.EVALUATING, 10, 1)
    assert job.prompt_tokens == 2 * len(job.prompt.split())
    assert {h["authorization"] for h in peer.headers} == {f"Bearer {peer.api_key}"}


@pytest.mark.django_db(transaction=True)
def test_an_openai_key_can_come_from_the_workers_environment(settings, monkeypatch) -> None:
    settings.MODEL_KEY_ENVS = ["HOUSE_LLM_KEY"]
    with ChatPeer() as peer:
        monkeypatch.setenv("HOUSE_LLM_KEY", peer.api_key)
        job = submitted_job(backend="openai", model="m", base_url=peer.url,
                            api_key_env="HOUSE_LLM_KEY", parameters={"max_new_tokens": 3})
        assert run_job.apply(args=(job.pk,)).get() == "recorded"
    monkeypatch.delenv("HOUSE_LLM_KEY")
    missing = submitted_job(backend="openai", model="m", base_url=peer.url,
                            api_key_env="HOUSE_LLM_KEY")
    assert run_job.apply(args=(missing.pk,)).get() == "failed"
    missing.refresh_from_db()
    assert "no environment variable HOUSE_LLM_KEY" in missing.error


@pytest.mark.django_db(transaction=True)
def test_a_job_records_its_accounting_and_what_made_each_draft(
    settings, tiny_models_dir: Path, tiny_training
) -> None:
    settings.MODELS_DIR = tiny_models_dir
    job = submitted_job(parameters={"max_new_tokens": 16, "min_new_tokens": 16})
    assert run_job.apply(args=(job.pk,)).get() == "recorded"
    job.refresh_from_db()
    assert job.completion_tokens == 32
    assert 0 < job.first_token_s <= job.latency_s
    assert 0 < job.device_seconds <= job.latency_s
    assert job.retries == 0
    version = job.prompt_template_version
    assert (version.version, version.template) == (1, factories.PROMPT)
    for draft in Draft.objects.filter(job=job):
        assert draft.prompt == job.prompt
        # after the content type's target format, which the template leaves out
        assert draft.prompt.startswith(MARKDOWN + "Title: Composting at home\n")
        assert draft.prompt_template_version_id == version.pk
        assert (draft.model_name, draft.model_revision) == ("builtin", tiny_training.revision)
        assert draft.parameters["max_new_tokens"] == 16
    usage = usage_since(workspace_id=job.workspace_id, since=job.created_at)
    assert (usage.jobs, usage.tokens) == (1, job.prompt_tokens + 32)


@pytest.mark.django_db
def test_an_edited_template_becomes_a_new_version_and_old_ones_stay() -> None:
    ws = factories.workspace()
    ct = factories.content_type(ws)
    first = factories.brief(ws, ct, submit=True).jobs.get()
    ct.prompt_template = "Write about {topic}.\n"
    ct.save(update_fields=["prompt_template"])
    second = factories.brief(ws, ct, submit=True).jobs.get()
    third = factories.brief(ws, ct, submit=True).jobs.get()
    assert [j.prompt_template_version.version for j in (first, second, third)] == [1, 2, 2]
    assert list(PromptTemplateVersion.objects.filter(content_type=ct)
                .values_list("version", "template")) == [
        (2, "Write about {topic}.\n"), (1, factories.PROMPT)]
    assert second.prompt.startswith(MARKDOWN + "Write about how to start composting")


@pytest.mark.django_db(transaction=True)
def test_a_job_past_its_timeout_fails_as_timed_out(settings, tiny_models_dir: Path) -> None:
    settings.MODELS_DIR = tiny_models_dir
    job = submitted_job(timeout_s=0, parameters={"max_new_tokens": 400, "min_new_tokens": 400})
    assert run_job.apply(args=(job.pk,)).get() == "timed out"
    job.refresh_from_db()
    assert job.state == JobState.FAILED
    assert job.error == "Generation timed out after 0 s (the model profile's timeout)."
    assert not Draft.objects.filter(job=job).exists()


@pytest.mark.django_db
def test_the_monthly_budget_refuses_new_jobs_with_a_clear_message() -> None:
    ws = factories.workspace()
    GenerationQuota.objects.create(workspace=ws, monthly_tokens=100)
    job = submitted_job(ws)
    GenerationJob.objects.filter(pk=job.pk).update(prompt_tokens=40, completion_tokens=60)
    with pytest.raises(BudgetExceeded) as refused:
        factories.brief(ws, submit=True)
    next_month = (timezone.now().replace(day=28) + timedelta(days=4)).replace(day=1)
    assert str(refused.value) == (
        "This workspace used its monthly budget of tokens (generation and training together). "
        f"It resets on {next_month:%Y-%m-%d} (UTC); an admin can raise the cap.")
    assert refused.value.status_code == 429
    assert GenerationJob.objects.filter(workspace=ws).count() == 1


@pytest.mark.django_db
def test_device_time_budget_counts_too() -> None:
    ws = factories.workspace()
    GenerationQuota.objects.create(workspace=ws, monthly_device_seconds=60)
    job = submitted_job(ws)
    GenerationJob.objects.filter(pk=job.pk).update(device_seconds=61.5)
    with pytest.raises(BudgetExceeded, match="monthly budget of device seconds"):
        factories.brief(ws, submit=True)


@pytest.mark.django_db
def test_the_workspace_concurrency_limit_holds_jobs_back() -> None:
    ws = factories.workspace()
    GenerationQuota.objects.create(workspace=ws, max_running_jobs=1)
    first, second = submitted_job(ws), submitted_job(ws)
    assert job_claim(job_id=first.pk, worker_id="w1").state == JobState.RUNNING
    with pytest.raises(ConcurrencyLimitReached, match="runs 1 of at most 1 jobs"):
        job_claim(job_id=second.pk, worker_id="w2")
    second.refresh_from_db()
    assert second.state == JobState.QUEUED
    other = submitted_job()  # another workspace is not held back
    assert job_claim(job_id=other.pk, worker_id="w3").state == JobState.RUNNING


@pytest.mark.django_db
def test_cancel_a_queued_job_and_its_brief() -> None:
    job = submitted_job()
    cancelled = job_cancel(workspace_id=job.workspace_id, job_id=job.pk)
    assert cancelled.state == JobState.CANCELLED
    assert cancelled.brief.state == BriefState.CANCELLED
    assert job_claim(job_id=job.pk, worker_id="w1") is None
    with pytest.raises(IllegalTransition, match="already ended"):
        job_cancel(workspace_id=job.workspace_id, job_id=job.pk)
    with pytest.raises(NotFound):
        job_cancel(workspace_id=factories.workspace().pk, job_id=job.pk)


def chat_model(source: Path, target: Path) -> Path:
    """A Hugging Face folder whose tokenizer has a chat template (as instruct models ship)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source)
    tokenizer.chat_template = ("{% for m in messages %}User: {{ m['content'] }}\n{% endfor %}"
                               "{% if add_generation_prompt %}Assistant:{% endif %}")
    tokenizer.save_pretrained(target)
    AutoModelForCausalLM.from_pretrained(source).save_pretrained(target)
    return target


def test_transformers_folders_use_their_chat_template(tiny_model_dir: Path, tmp_path: Path) -> None:
    folder = chat_model(tiny_model_dir, tmp_path / "chatty")
    asked = GenerationRequest(prompt="Compost?", variants=1, max_new_tokens=8, seed=3,
                              temperature=0.0, model=str(folder), backend="transformers",
                              device="cpu")
    loaded = load_model(str(folder), "cpu")
    templated = loaded.tokenizer("User: Compost?\nAssistant:", add_special_tokens=False)
    assert prompt_ids(loaded, asked) == templated["input_ids"]
    [text] = generate(asked)
    assert text.prompt_tokens == len(templated["input_ids"])
    raw = GenerationRequest(**{**asked.__dict__, "chat": False})
    assert prompt_ids(loaded, raw) == loaded.tokenizer("Compost?", add_special_tokens=False)[
        "input_ids"]
    assert json.loads((folder / "config.json").read_text())["model_type"] == "gpt2"


@pytest.mark.django_db
def test_usage_is_totalled_per_model_and_per_workspace() -> None:
    since = timezone.now() - timedelta(minutes=1)
    ws = factories.workspace(slug="garden")
    builtin = factories.content_type(ws, model_profile=factories.model_profile(ws))
    served = factories.content_type(ws, model_profile=factories.model_profile(
        ws, backend="openai", model="house-7b"))
    jobs = [factories.brief(ws, ct, submit=True).jobs.get() for ct in (builtin, builtin, served)]
    for n, job in enumerate(jobs, start=1):
        GenerationJob.objects.filter(pk=job.pk).update(
            prompt_tokens=10 * n, completion_tokens=100 * n, device_seconds=n, latency_s=2.0 * n,
            first_token_s=0.5, generated_at=timezone.now())
    factories.brief(ws, builtin, submit=True)  # still queued: not counted
    by_model = usage_by_model(workspace_id=ws.pk, since=since)
    assert [(r.key, r.jobs, r.prompt_tokens, r.completion_tokens, r.device_seconds,
             r.mean_latency_s, r.mean_first_token_s) for r in by_model] == [
        ("", 2, 30, 300, 3.0, 3.0, 0.5), ("house-7b", 1, 30, 300, 3.0, 6.0, 0.5)]
    by_workspace = {r.key: r.completion_tokens for r in usage_by_workspace(since=since)}
    assert by_workspace["garden"] == 600


@pytest.mark.django_db
def test_the_admin_stores_an_api_key_encrypted_and_never_shows_it(root) -> None:
    ws = factories.workspace()
    profile = factories.model_profile(ws, backend="openai", model="m",
                                      base_url="http://127.0.0.1:9/v1")
    form = factories.model_profile_form(ws, base_url="http://127.0.0.1:9/v1",
                                        api_key="sk-admin-secret")
    response = root.post(f"/admin/generation/modelprofile/{profile.pk}/change/", form)
    assert response.status_code == 302
    profile.refresh_from_db()
    assert secret_decrypt(profile.api_key_encrypted) == "sk-admin-secret"
    page = root.get(f"/admin/generation/modelprofile/{profile.pk}/change/").content.decode()
    assert "sk-admin-secret" not in page and profile.api_key_encrypted not in page
    # an empty field keeps the stored key
    root.post(f"/admin/generation/modelprofile/{profile.pk}/change/", {**form, "api_key": ""})
    profile.refresh_from_db()
    assert secret_decrypt(profile.api_key_encrypted) == "sk-admin-secret"
