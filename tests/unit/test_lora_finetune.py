"""LoRA fine-tuning through peft: of the built-in architecture and of any local Hugging
Face causal LM, on a dataset version, lowering the held-out perplexity; the adapters are
merged so the new version serves like any model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from apps.accounts.models import Role
from apps.core.errors import DomainError
from apps.datasets.services import (
    dataset_version_train,
)
from apps.generation.models import ModelVersion, TrainingKind
from tests import factories
from tests.clients import client_for
from tests.unit.conftest import DATASET_FIXTURES
from workers.datasets.cleaning import html_text, normalise
from workers.generation.builtin.finetune import FineTunePlan, finetune_model
from workers.generation.engine import generate
from workers.generation.types import GenerationRequest
from workers.tasks.generation import train

TEXTS = [normalise(html_text(p.read_text()))
         for p in sorted(Path(DATASET_FIXTURES).glob("garden-*.html"))]
LORA = {"steps": 30, "learning_rate": 0.005, "max_seconds": None, "threads": 1, "lora_rank": 4}


def test_lora_trains_a_few_adapter_weights_and_lowers_held_out_perplexity(tiny_builtin, tmp_path):
    report = finetune_model(tiny_builtin, tmp_path / "lora", TEXTS[:2],
                            FineTunePlan(steps=30, learning_rate=5e-3, max_seconds=None,
                                         lora_rank=4), heldout=TEXTS[2:])
    full = finetune_model(tiny_builtin, tmp_path / "full", TEXTS[:2],
                          FineTunePlan(steps=1, max_seconds=None), heldout=TEXTS[2:])
    assert report.heldout_perplexity_after < report.heldout_perplexity_before
    assert 0 < report.trainable_parameters < full.trainable_parameters / 5
    # merged: a plain model folder, no adapter files, and the card says how it learnt
    assert not list((tmp_path / "lora").glob("adapter_*"))
    assert "| method | LoRA rank 4, merged" in (tmp_path / "lora" / "README.md").read_text()
    assert json.loads((tmp_path / "lora" / "training.json").read_text())["plan"]["lora_rank"] == 4


@pytest.mark.django_db(transaction=True)
def test_any_local_causal_lm_is_fine_tuned_with_lora_on_a_dataset_version(
        models_dir, datasets_dir, garden_files, tiny_llama):
    # given a workspace with a Llama-architecture model folder of its own and a built dataset
    ws = factories.workspace()
    admin = factories.member(ws, Role.ADMIN)
    own = models_dir / "workspaces" / str(ws.pk)
    shutil.copytree(tiny_llama, own / "tiny-llama")
    version = factories.built_dataset_version(
        ws, garden_files, options=factories.GARDEN_SPLIT | {"validation_share": 0.2})
    # when an admin fine-tunes it with LoRA over the API and a worker runs it
    started = client_for(admin).post(
        f"/api/v1/dataset-versions/{version.pk}/train/",
        {"kind": "finetune", "base_model": "tiny-llama", "parameters": LORA}, format="json")
    assert started.status_code == 201, started.content
    assert started.json()["base_model"] == "tiny-llama"
    assert train.apply(args=(started.json()["id"],)).get() == "trained"
    # then the new version is lower in held-out perplexity, and writes text
    model = ModelVersion.objects.get(training_run_id=started.json()["id"])
    assert model.metrics["heldout_perplexity_after"] < model.metrics["heldout_perplexity_before"]
    assert json.loads((own / model.folder / "config.json").read_text())["model_type"] == "llama"
    [text] = generate(GenerationRequest(prompt="Compost", variants=1, max_new_tokens=4,
                                        min_new_tokens=4, seed=1, model=str(own / model.folder),
                                        device="cpu"))
    assert (text.completion_tokens, text.model_revision) == (4, model.revision)


@pytest.mark.django_db
def test_a_base_model_outside_the_workspaces_folders_is_refused(ws, models_dir, datasets_dir,
                                                                 garden_files, tiny_llama):
    version = factories.built_dataset_version(
        ws, {name: garden_files[name] for name in ("questions.csv", "notes.jsonl")},
        options={"min_chars": 100})
    other = factories.workspace()
    theirs = models_dir / "workspaces" / str(other.pk) / "tiny-llama"
    shutil.copytree(tiny_llama, theirs)
    for base in (str(theirs), f"../{other.pk}/tiny-llama", str(tiny_llama)):
        with pytest.raises(DomainError, match="The model is not a folder this workspace may use"):
            dataset_version_train(version=version, kind=TrainingKind.FINETUNE, base_model=base)
    with pytest.raises(DomainError, match="Only fine-tuning starts from a base version or model"):
        dataset_version_train(version=version, kind=TrainingKind.TRAIN, base_model="builtin")
