"""Cancelling a training run or a dataset build (API), the worker stopping at its next report;
training's tokens and device time counted in the workspace's monthly budget."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from django.db import connections
from django.utils import timezone

from apps.accounts.models import Role
from apps.core.errors import DomainError
from apps.datasets.models import DatasetVersion, VersionState
from apps.datasets.services import (
    dataset_create,
    dataset_import_upload,
    dataset_version_build,
    dataset_version_cancel,
    dataset_version_create,
    dataset_version_train,
    version_dir,
)
from apps.generation.accounting import tokens_per_step
from apps.generation.models import (
    GenerationJob,
    GenerationQuota,
    ModelVersion,
    TrainingKind,
    TrainingRun,
    TrainingState,
)
from apps.generation.profile_checks import profile_check_create
from apps.generation.running import loss_sender
from apps.generation.services import BudgetExceeded, budget_left
from apps.generation.training import (
    TrainingStopped,
    training_run_cancel,
    training_run_claim,
    training_run_create,
    training_run_record_losses,
    training_run_succeed,
)
from tests import factories
from tests.clients import logged_in
from workers.generation.progress import LossPoint
from workers.tasks.generation import train

pytestmark = pytest.mark.django_db
T = TypeVar("T")


def as_worker(work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`work` as a worker does it: on its own thread, with its own database connection."""
    try:
        return work(*args, **kwargs)
    finally:
        connections.close_all()


def wait_for(check, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_an_admin_cancels_a_queued_run_over_the_api_and_no_worker_runs_it(ws, admin):
    run = training_run_create(workspace_id=ws.pk, kind=TrainingKind.FINETUNE)
    client = logged_in(admin)
    answer = client.post(f"/api/v1/training-runs/{run.pk}/cancel/")
    assert (answer.status_code, answer.json()["state"]) == (200, "cancelled")
    assert training_run_claim(run_id=run.pk, worker_id="gpu-1") is None
    # an ended run is a 409 with the reason; an editor may not cancel
    again = client.post(f"/api/v1/training-runs/{run.pk}/cancel/")
    assert again.status_code == 409
    assert "cannot go from 'cancelled' to 'cancelled'" in again.json()["detail"]
    other = training_run_create(workspace_id=ws.pk, kind=TrainingKind.FINETUNE)
    editor = factories.member(ws, Role.EDITOR)
    assert logged_in(editor).post(f"/api/v1/training-runs/{other.pk}/cancel/").status_code == 403
    assert TrainingRun.objects.get(pk=other.pk).state == TrainingState.QUEUED


def test_a_cancelled_running_run_stops_its_worker_at_the_next_report_and_writes_no_version(ws):
    run = TrainingRun.objects.create(workspace=ws, kind=TrainingKind.FINETUNE)
    training_run_claim(run_id=run.pk, worker_id="gpu-1")
    assert training_run_record_losses(run_id=run.pk, worker_id="gpu-1",
                                      points=[LossPoint(10, 3.0)])
    cancelled = training_run_cancel(run=run)
    assert (cancelled.state, cancelled.finished_at is not None) == ("cancelled", True)
    with pytest.raises(TrainingStopped, match="Cancelled"):
        training_run_record_losses(run_id=run.pk, worker_id="gpu-1", points=[LossPoint(20, 2.9)])
    # a worker that finished between two reports records nothing either
    training_run_succeed(run_id=run.pk, worker_id="gpu-1", revision="r", steps=20, documents=2,
                         final_loss=2.9, heldout_perplexity_before=20.0,
                         heldout_perplexity_after=18.0)
    assert TrainingRun.objects.get(pk=run.pk).state == TrainingState.CANCELLED
    assert not ModelVersion.objects.filter(training_run_id=run.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_stops_training_soon_after_the_cancel(models_dir, datasets_dir,
                                                            garden_files):
    # given a long fine-tuning run that a worker is training
    ws = factories.workspace()
    version = factories.built_dataset_version(ws, garden_files)
    run = dataset_version_train(version=version, kind=TrainingKind.FINETUNE, parameters={
        "steps": 5_000, "max_seconds": None, "threads": 1})

    with ThreadPoolExecutor(1) as pool:
        worker = pool.submit(as_worker, lambda: train.apply(args=(run.pk,)).get())
        wait_for(lambda: len(TrainingRun.objects.get(pk=run.pk).loss_curve) >= 2)
        # when an admin cancels it
        training_run_cancel(run=TrainingRun.objects.get(pk=run.pk))
        cancelled_at = time.monotonic()
        # then the worker stops within a second or so, and the run stays cancelled
        assert worker.result(timeout=60) == "failed"  # the task's word for "did not train"
    assert time.monotonic() - cancelled_at < 5
    run.refresh_from_db()
    assert run.state == TrainingState.CANCELLED and run.error == ""
    assert run.loss_curve[-1][0] < 5_000
    assert not ModelVersion.objects.filter(training_run=run).exists()
    assert not (models_dir / "workspaces" / str(ws.pk) / run.output_model / "config.json").exists()
    # and what it used is counted
    assert run.tokens_trained == run.loss_curve[-1][0] * run.tokens_per_step > 0
    assert run.device_seconds > 0


def test_training_is_counted_in_the_monthly_budget_and_stops_when_it_is_spent(
        ws, admin, models_dir, datasets_dir, garden_files):
    # given a workspace whose monthly budget holds 60 steps of fine-tuning
    version = factories.built_dataset_version(ws, garden_files)
    run = dataset_version_train(version=version, kind=TrainingKind.FINETUNE,
                                parameters={"steps": 400, "max_seconds": None, "threads": 1})
    # the plan's batch of 4 windows as long as the tiny model's positions
    per_step = 4 * json.loads((models_dir / "builtin" / "config.json").read_text())["n_positions"]
    GenerationQuota.objects.create(workspace=ws, monthly_tokens=60 * per_step)
    # when a worker trains the run
    assert train.apply(args=(run.pk,)).get() == "failed"
    # then it stopped once the budget was spent, saying so, and wrote no version
    run.refresh_from_db()
    assert run.state == TrainingState.FAILED
    assert "monthly token budget is spent" in run.error
    assert (run.tokens_per_step, run.budget_tokens) == (per_step, 60 * per_step)
    assert run.tokens_trained == 60 * per_step  # at the report of step 60, however fast it ran
    assert not ModelVersion.objects.filter(training_run=run).exists()
    # and the month's budget is spent for training as for generation
    assert budget_left(workspace_id=ws.pk).tokens == 0
    with pytest.raises(DomainError, match="used its monthly budget of tokens") as refused:
        dataset_version_train(version=version, kind=TrainingKind.FINETUNE)
    assert refused.value.status_code == 429
    answer = logged_in(admin).post("/api/v1/training-runs/", {"kind": "finetune"},
                                   content_type="application/json")
    assert answer.status_code == 429
    # and the usage API shows what training used and what is left of the month
    usage = logged_in(admin).get("/api/v1/usage/").json()
    assert usage["training"] == {"runs": 1, "tokens": run.tokens_trained,
                                 "device_seconds": run.device_seconds}
    assert usage["budget_left"] == {"tokens": 0, "device_seconds": None}


def test_the_report_that_spends_the_budget_is_stored_at_once_and_the_next_stops_the_worker(
        ws):
    # given a run claimed with 60 steps' tokens left in the month
    run = TrainingRun.objects.create(workspace=ws, kind=TrainingKind.FINETUNE)
    GenerationQuota.objects.create(workspace=ws, monthly_tokens=60 * tokens_per_step(run))
    run = training_run_claim(run_id=run.pk, worker_id="gpu-1")
    on_loss, _flush = loss_sender(run, "gpu-1")
    # when the engine reports every 10 steps faster than the throttle's rate of writes
    with pytest.raises(TrainingStopped, match="monthly token budget is spent"):
        for step in range(10, 1_000, 10):
            on_loss(step, 2.0)
    # then step 60 was stored and spent the budget, and step 70's report stopped the worker
    run.refresh_from_db()
    assert (run.state, run.loss_curve[-1][0]) == (TrainingState.FAILED, 60)
    assert run.tokens_trained == 60 * run.tokens_per_step == run.budget_tokens


@pytest.mark.parametrize("spent", [{"tokens_trained": 70}, {"device_seconds": 31.0}])
def test_training_counts_when_a_new_job_or_profile_check_is_judged(ws, admin, spent) -> None:
    # given a month's budget of 100 tokens and 60 device seconds, of which generation used
    # 40 tokens and 30 seconds, and a training run the rest of one of them
    GenerationQuota.objects.create(workspace=ws, monthly_tokens=100, monthly_device_seconds=60)
    profile = factories.model_profile(ws)
    factories.brief(ws, submit=True)
    GenerationJob.objects.filter(workspace=ws).update(prompt_tokens=10, completion_tokens=30,
                                                      device_seconds=29.0)
    TrainingRun.objects.create(workspace=ws, kind=TrainingKind.FINETUNE,
                               started_at=timezone.now(), **spent)
    # when an editor submits a brief, or an admin asks for a profile's test generation
    # then both are refused for the budget generation and training spent together
    for ask in (lambda: factories.brief(ws, submit=True),
                lambda: profile_check_create(profile=profile, actor=admin)):
        with pytest.raises(BudgetExceeded, match="monthly budget of (tokens|device seconds) "
                                                 r"\(generation and training together\)"):
            ask()
    assert GenerationJob.objects.filter(workspace=ws).count() == 1


def test_a_finished_run_counts_the_engines_tokens_and_its_time(ws, models_dir, datasets_dir,
                                                             garden_files):
    version = factories.built_dataset_version(ws, garden_files)
    run = dataset_version_train(version=version, kind=TrainingKind.FINETUNE,
                                parameters={"steps": 20, "max_seconds": None, "threads": 1})
    assert train.apply(args=(run.pk,)).get() == "trained"
    run.refresh_from_db()
    metrics = ModelVersion.objects.get(training_run=run).metrics
    assert run.tokens_trained == metrics["tokens_seen"] > 0
    # the claim to the end holds the training loop (which the engine rounds to a tenth)
    assert run.device_seconds >= metrics["train_seconds"] - 0.05 > 0
    assert run.budget_tokens is None and run.budget_seconds is None  # no quota: unlimited


@pytest.fixture
def many_documents() -> bytes:
    """3,000 distinct English notes as JSONL: a build of a few seconds."""
    rows = [{"text": f"Garden note {n}: the {n % 7} beds by the {n % 13} wall want mulch, "
                     f"water at dawn, and a look for slugs under leaf {n} after the rain."}
            for n in range(3_000)]
    return "\n".join(json.dumps(row) for row in rows).encode()


def test_an_admin_cancels_a_queued_build_over_the_api(ws, admin, datasets_dir, garden_files):
    dataset = dataset_create(workspace=ws, name="Garden")
    dataset_import_upload(dataset=dataset, filename="a.html",
                          data=next(iter(garden_files.values())))
    version = dataset_version_create(dataset=dataset)
    client = logged_in(admin)
    answer = client.post(f"/api/v1/dataset-versions/{version.pk}/cancel/")
    assert (answer.status_code, answer.json()["state"]) == (200, "cancelled")
    assert dataset_version_build(version_id=version.pk, worker_id="w") == "skipped"
    assert client.post(f"/api/v1/dataset-versions/{version.pk}/cancel/").status_code == 409


@pytest.mark.django_db(transaction=True)
def test_a_running_build_stops_at_its_next_progress_report(datasets_dir, many_documents):
    ws = factories.workspace()
    dataset = dataset_create(workspace=ws, name="Notes")
    dataset_import_upload(dataset=dataset, filename="notes.jsonl", data=many_documents)
    version = dataset_version_create(dataset=dataset)
    with ThreadPoolExecutor(1) as pool:  # the worker, on a thread of its own
        worker = pool.submit(as_worker, dataset_version_build, version_id=version.pk,
                             worker_id="w")
        wait_for(lambda: DatasetVersion.objects.get(pk=version.pk).progress > 0)
        dataset_version_cancel(version=DatasetVersion.objects.get(pk=version.pk))
        assert worker.result(timeout=60) == "stopped"
    version.refresh_from_db()
    assert version.state == VersionState.CANCELLED and version.progress < 1
    assert version.stats == {} and not version_dir(version).exists()
