"""A training run whose worker is killed (kill -9) mid-run is requeued by the reconciler's
sweep and resumes from its last checkpoint, not from step 0."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest
import torch
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection

from aigc_platform.processes import database_url
from apps.datasets.services import (
    dataset_version_train,
)
from apps.generation.models import ModelVersion, TrainingKind, TrainingRun, TrainingState
from apps.generation.training import training_runs_requeue_stale
from tests import factories
from tests.generation_fixtures import receive_all
from workers.generation.builtin.training import CHECKPOINT_FILE, checkpoint_dir
from workers.tasks.generation import train

STEPS = 300  # about 3 s of the tiny model: long enough to be killed after a checkpoint


@pytest.mark.django_db(transaction=True)
def test_a_killed_run_resumes_from_its_last_checkpoint(models_dir, datasets_dir, garden_files):
    # given a fine-tuning run on a built dataset version, started by a worker process
    ws = factories.workspace()
    version = factories.built_dataset_version(ws, garden_files)
    run = dataset_version_train(version=version, kind=TrainingKind.FINETUNE, parameters={
        "steps": STEPS, "max_seconds": None, "threads": 1})
    output = models_dir / "workspaces" / str(ws.pk) / run.output_model
    saved = checkpoint_dir(output) / CHECKPOINT_FILE
    worker = subprocess.Popen(
        [sys.executable, "-c", "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = "
         "'aigc_platform.settings'; django.setup()\nfrom workers.tasks.generation import "
         f"train\ntrain.apply(args=({run.pk},))"],
        env=os.environ | {"DATABASE_URL": database_url(connection.settings_dict),
                          "AIGC_MODELS_DIR": str(models_dir),
                          "AIGC_DATASETS_DIR": str(datasets_dir),
                          "AIGC_VAR_DIR": str(settings.VAR_DIR)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # when it is killed once its first checkpoint is on disk
    deadline = time.monotonic() + 90
    while not saved.is_file() and worker.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    worker.kill()
    assert worker.wait(timeout=30) == -9
    checkpoint_step = int(torch.load(saved, weights_only=True)["step"])
    assert 50 <= checkpoint_step < STEPS
    assert TrainingRun.objects.get(pk=run.pk).state == TrainingState.RUNNING
    assert not output.exists()
    # and the sweep finds it silent and sends it again, and a worker takes it
    assert training_runs_requeue_stale(older_than=timedelta(0)) == [run.pk]
    assert TrainingRun.objects.get(pk=run.pk).state == TrainingState.QUEUED
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(f"workspace.{ws.pk}", channel)
    assert train.apply(args=(run.pk,)).get() == "trained"
    # then it went on from the checkpoint: its first report is the next one after it
    steps = [m["event"]["data"]["step"] for m in receive_all(channel)
             if m["event"]["type"] == "training.progress"]
    assert steps[0] == checkpoint_step + 10
    run.refresh_from_db()
    assert (run.state, run.steps) == (TrainingState.SUCCEEDED, STEPS)
    curve_steps = [step for step, _ in run.loss_curve]
    assert curve_steps == sorted(set(curve_steps)) and curve_steps[-1] == STEPS
    assert ModelVersion.objects.get(training_run=run).metrics["steps"] == STEPS
    assert not checkpoint_dir(output).exists()
