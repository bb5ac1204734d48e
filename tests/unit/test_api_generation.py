"""API v1 generation accounting: jobs with what they cost, cancel, usage against the monthly
budget, training runs listed, read and started."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import Role
from apps.apikeys.services import apikey_create
from apps.generation.models import GenerationQuota, JobState, TrainingKind, TrainingRun
from apps.generation.services import JobTimings, job_claim, job_record_drafts, month_start
from apps.generation.training import training_run_claim, training_run_record_losses
from tests import factories
from tests.clients import client_for
from workers.generation.progress import LossPoint
from workers.generation.types import GeneratedText

pytestmark = pytest.mark.django_db

API = "/api/v1"


def generated(ws, *, model: str = "builtin", revision: str = "rev-1", variants: int = 2,
              profile_model: str = ""):
    """A job a worker wrote: claimed, its variants recorded with their costs."""
    profile = factories.model_profile(ws, model=profile_model)
    brief = factories.brief(ws, factories.content_type(ws, model_profile=profile), submit=True,
                            variants=variants)
    job = brief.jobs.get()
    job_claim(job_id=job.pk, worker_id="w1")
    job_record_drafts(job_id=job.pk, worker_id="w1", timings=JobTimings(latency_s=2.5, retries=1),
                      texts=[GeneratedText(variant=v, text=f"Variant {v}", seed=v,
                                           prompt_tokens=10, completion_tokens=40 + v,
                                           model_name=model, model_revision=revision,
                                           first_token_s=0.25 + v, device_s=1.5, retries=v)
                             for v in range(variants)])
    job.refresh_from_db()
    return job


# --- jobs ---------------------------------------------------------------------------------------


def test_jobs_show_what_each_cost_in_list_and_detail(ws, editor):
    # given a job a worker wrote two variants for
    job = generated(ws, model="builtin", revision="rev-1")
    client = client_for(editor)
    # when the editor lists jobs and reads the job
    [row] = client.get(f"{API}/jobs/").json()["results"]
    detail = client.get(f"{API}/jobs/{job.pk}/").json()
    # then both carry its accounting
    expected = {
        "state": JobState.EVALUATING, "attempts": 1, "retries": 2, "prompt_tokens": 20,
        "completion_tokens": 81, "latency_s": 2.5, "first_token_s": 0.25, "device_seconds": 3.0,
        "model_profile_id": job.model_profile_id, "model_name": "builtin",
        "model_revision": "rev-1", "prompt_template_version_id": job.prompt_template_version_id,
        "prompt_template_version": 1,
    }
    assert {key: row[key] for key in expected} == expected
    assert {key: detail[key] for key in expected} == expected
    assert [d["variant"] for d in detail["drafts"]] == [0, 1]


def test_a_job_before_its_drafts_names_no_model_yet(ws, editor):
    brief = factories.brief(ws, submit=True)
    [row] = client_for(editor).get(f"{API}/jobs/").json()["results"]
    assert (row["id"], row["model_name"], row["model_revision"], row["latency_s"]) == (
        brief.jobs.get().pk, None, None, None)


def test_listing_jobs_takes_the_same_queries_for_one_job_or_many(
        ws, editor, django_assert_num_queries):
    # given one job
    generated(ws)
    client = client_for(editor)
    with django_assert_num_queries(2):  # the membership, the page
        assert len(client.get(f"{API}/jobs/").json()["results"]) == 1
    # when three more exist, then listing them costs no more
    for _ in range(3):
        generated(ws)
    with django_assert_num_queries(2):
        assert len(client.get(f"{API}/jobs/").json()["results"]) == 4


def test_an_editor_cancels_a_queued_job_and_its_brief(ws, editor):
    # given a queued job
    brief = factories.brief(ws, submit=True)
    job = brief.jobs.get()
    client = client_for(editor)
    # when the editor cancels it
    response = client.post(f"{API}/jobs/{job.pk}/cancel/")
    # then the job and its brief are cancelled
    assert response.status_code == 200, response.content
    assert (response.json()["state"], response.json()["brief"]["state"]) == (
        "cancelled", "cancelled")
    # and cancelling it again is a conflict saying why
    again = client.post(f"{API}/jobs/{job.pk}/cancel/")
    assert (again.status_code, again.json()) == (
        409, {"detail": f"Job {job.pk} already ended (cancelled)."})


def test_a_running_job_is_cancelled_and_a_finished_one_is_a_conflict(ws, editor):
    brief = factories.brief(ws, submit=True)
    running = job_claim(job_id=brief.jobs.get().pk, worker_id="w1")
    client = client_for(editor)
    assert client.post(f"{API}/jobs/{running.pk}/cancel/").json()["state"] == "cancelled"
    finished = factories.brief_in_review(ws).jobs.get()
    response = client.post(f"{API}/jobs/{finished.pk}/cancel/")
    assert (response.status_code, response.json()) == (
        409, {"detail": f"Job {finished.pk} already ended (succeeded)."})


def test_only_editors_and_admins_of_the_workspace_cancel_jobs(ws):
    job = factories.brief(ws, submit=True).jobs.get()
    reviewer = factories.member(ws, Role.REVIEWER)
    assert client_for(reviewer).post(f"{API}/jobs/{job.pk}/cancel/").status_code == 403
    outsider = factories.member(factories.workspace(), Role.EDITOR)
    assert client_for(outsider).post(f"{API}/jobs/{job.pk}/cancel/").status_code == 404
    # and an API key needs the briefs:write scope
    _, key = apikey_create(workspace=ws, user=factories.member(ws, Role.EDITOR), name="ro",
                           scopes=["briefs:read"])
    response = APIClient().post(f"{API}/jobs/{job.pk}/cancel/", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert (response.status_code, response.json()) == (
        403, {"detail": "This API key lacks the 'briefs:write' scope."})
    job.refresh_from_db()
    assert job.state == JobState.QUEUED


# --- usage --------------------------------------------------------------------------------------


def test_usage_by_model_this_month_with_totals_and_what_is_left_of_the_budget(ws, editor):
    # given two jobs of one model, one of another, and a monthly cap
    generated(ws, profile_model="house-a", model="house-a")
    generated(ws, profile_model="house-a", model="house-a")
    generated(ws, profile_model="house-b", model="house-b", variants=1)
    GenerationQuota.objects.create(workspace=ws, monthly_tokens=1000, monthly_device_seconds=None)
    other = factories.workspace()
    generated(other)
    # when the editor reads the usage
    response = client_for(editor).get(f"{API}/usage/")
    # then it counts this month, per model, the totals and what is left
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["since"] == month_start().isoformat().replace("+00:00", "Z")
    assert [(m["model"], m["jobs"], m["prompt_tokens"], m["completion_tokens"],
             m["device_seconds"], m["mean_latency_s"], m["mean_first_token_s"])
            for m in body["models"]] == [("house-a", 2, 40, 162, 6.0, 2.5, 0.25),
                                         ("house-b", 1, 10, 40, 1.5, 2.5, 0.25)]
    assert body["totals"] == {"jobs": 3, "prompt_tokens": 50, "completion_tokens": 202,
                              "tokens": 252, "device_seconds": 7.5}
    budget = body["budget"]
    assert {k: budget[k] for k in ("monthly_tokens", "tokens_used", "tokens_left",
                                   "monthly_device_seconds", "device_seconds_used",
                                   "device_seconds_left")} == {
        "monthly_tokens": 1000, "tokens_used": 252, "tokens_left": 748,
        "monthly_device_seconds": None, "device_seconds_used": 7.5, "device_seconds_left": None}
    next_month = (month_start() + timedelta(days=32)).replace(day=1)
    assert budget["resets_at"] == next_month.isoformat().replace("+00:00", "Z")


def test_usage_since_a_day_and_refusals_of_bad_dates(ws, editor):
    generated(ws)
    client = client_for(editor)
    tomorrow = (timezone.now() + timedelta(days=1)).date()
    later = client.get(f"{API}/usage/", {"since": tomorrow.isoformat()}).json()
    assert (later["since"], later["models"], later["totals"]["jobs"]) == (
        f"{tomorrow.isoformat()}T00:00:00Z", [], 0)
    assert later["budget"]["tokens_used"] == 81 + 20  # the month still counts today's job
    for bad in ("yesterday", "2025-02-30", "2025-13-01"):
        response = client.get(f"{API}/usage/", {"since": bad})
        assert response.status_code == 400, bad
        assert list(response.json()) == ["since"]


def test_a_workspace_without_a_quota_has_no_caps(ws, editor):
    budget = client_for(editor).get(f"{API}/usage/").json()["budget"]
    assert (budget["monthly_tokens"], budget["tokens_left"], budget["tokens_used"]) == (
        None, None, 0)


# --- training runs ------------------------------------------------------------------------------


def test_an_admin_starts_a_fine_tuning_run(ws, admin):
    # when the admin starts a run
    response = client_for(admin).post(f"{API}/training-runs/", {
        "kind": "finetune", "parameters": {"steps": 50, "learning_rate": 0.001}}, format="json")
    # then it is queued with its parameters
    assert response.status_code == 201, response.content
    run = TrainingRun.objects.get(workspace=ws)
    assert response.json() | {"created_at": None} == {
        "id": run.pk, "url": f"{API}/training-runs/{run.pk}/", "kind": "finetune",
        "state": "queued", "parameters": {"steps": 50, "learning_rate": 0.001},
        "base_model": "builtin", "output_model": f"run-{run.pk}", "revision": "",
        "documents": 0, "steps": 0, "final_loss": None, "heldout_perplexity_before": None,
        "heldout_perplexity_after": None, "error": "", "created_at": None, "started_at": None,
        "finished_at": None, "losses": [], "tokens_trained": 0, "device_seconds": 0.0}


def test_only_admins_start_training(ws, editor, admin):
    response = client_for(editor).post(f"{API}/training-runs/", {"kind": "train"}, format="json")
    assert response.status_code == 403
    # and an admin's API key needs the catalog:write scope
    _, key = apikey_create(workspace=ws, user=admin, name="ro", scopes=["briefs:read"])
    response = APIClient().post(f"{API}/training-runs/", {"kind": "train"}, format="json",
                                HTTP_AUTHORIZATION=f"Bearer {key}")
    assert (response.status_code, response.json()) == (
        403, {"detail": "This API key lacks the 'catalog:write' scope."})
    assert not TrainingRun.objects.exists()


@pytest.mark.parametrize(("body", "errors"), [
    ({"kind": "distil"}, {"kind": ['"distil" is not a valid choice.']}),
    ({"kind": "finetune", "parameters": {"layers": 3}}, {"parameters": [
        "Unknown parameter 'layers' for finetune; known: steps, learning_rate, batch_size, "
        "max_seconds, seed, threads, device, lora_rank, min_engagement."]}),
    ({"kind": "finetune", "parameters": {"min_engagement": -1}}, {"parameters": [
        "'min_engagement' must be a whole number from 0 to 1,000,000,000."]}),
    ({"kind": "train", "parameters": {"min_engagement": 5}}, {"parameters": [
        "Unknown parameter 'min_engagement' for train; known: steps, vocab_size, n_layer, "
        "n_head, n_embd, block_size, batch_size, learning_rate, warmup_steps, max_seconds, "
        "seed, max_documents, eval_blocks, threads, device."]}),
    ({"kind": "train", "parameters": {"steps": 0, "max_seconds": "long"}}, {"parameters": [
        "'steps' must be a whole number from 1 to 1,000,000.",
        "'max_seconds' must be null or a number from 1 to 604,800."]}),
    ({"kind": "train", "parameters": {"n_embd": 100, "n_head": 3}}, {"parameters": [
        "'n_embd' (100) must be a multiple of 'n_head' (3)."]}),
    ({"kind": "train", "parameters": [1]}, {"parameters": ['Expected a dictionary of items but '
                                                           'got type "list".']}),
])
def test_bad_training_requests_are_refused_field_by_field(ws, admin, body, errors):
    response = client_for(admin).post(f"{API}/training-runs/", body, format="json")
    assert (response.status_code, response.json()) == (400, errors)
    assert not TrainingRun.objects.exists()


def test_training_runs_listed_without_losses_and_read_with_them(ws, editor,
                                                                django_assert_num_queries):
    # given a run that recorded two losses, and an older finished one
    older = TrainingRun.objects.create(workspace=ws, kind=TrainingKind.TRAIN, state="failed",
                                       error="out of memory")
    run = TrainingRun.objects.create(workspace=ws, kind=TrainingKind.FINETUNE)
    training_run_claim(run_id=run.pk, worker_id="gpu-1")
    training_run_record_losses(run_id=run.pk, worker_id="gpu-1",
                               points=[LossPoint(10, 3.25), LossPoint(20, 2.5)])
    TrainingRun.objects.create(workspace=factories.workspace(), kind=TrainingKind.TRAIN)
    client = client_for(editor)
    # when the editor lists the workspace's runs
    with django_assert_num_queries(2):
        rows = client.get(f"{API}/training-runs/").json()["results"]
    # then they come newest first, without the curves
    assert [(r["id"], r["state"], r["error"]) for r in rows] == [
        (run.pk, "running", ""), (older.pk, "failed", "out of memory")]
    assert "losses" not in rows[0]
    assert [r["id"] for r in client.get(f"{API}/training-runs/", {"state": "failed"}).json()[
        "results"]] == [older.pk]
    # and one run reads with its losses so far
    detail = client.get(f"{API}/training-runs/{run.pk}/").json()
    assert (detail["state"], detail["losses"]) == ("running", [[10, 3.25], [20, 2.5]])


def test_another_workspaces_training_run_is_not_found(ws, editor):
    theirs = TrainingRun.objects.create(workspace=factories.workspace(), kind=TrainingKind.TRAIN)
    assert client_for(editor).get(f"{API}/training-runs/{theirs.pk}/").status_code == 404
