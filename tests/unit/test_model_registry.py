"""From a dataset to a model of the workspace's own: training on a built version, the
registry (list, compare, promote, roll back, archive), generation with the promoted
version, and the wall: another workspace's versions, data and models stay out of reach."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from apps.accounts.models import Role
from apps.core.errors import DomainError
from apps.datasets.models import DatasetVersion
from apps.datasets.services import (
    dataset_create,
    dataset_import_upload,
    dataset_version_build,
    dataset_version_create,
    dataset_version_train,
)
from apps.generation.models import ModelProfile, ModelVersion, TrainingKind, TrainingState
from apps.generation.registry import model_version_archive
from apps.generation.running import local_model
from apps.generation.training import training_run_create
from tests import factories
from tests.clients import client_for
from workers.generation.engine import generate
from workers.generation.types import GenerationRequest
from workers.tasks.generation import train

OPTIONS = {"min_chars": 150, "languages": ["en"], "seed": 7, "validation_share": 0.2,
           "test_share": 0.2}
FINETUNE = {"steps": 20, "learning_rate": 0.003, "max_seconds": None, "threads": 1}
SCRATCH = {"steps": 10, "vocab_size": 300, "n_layer": 1, "n_head": 2, "n_embd": 32,
           "block_size": 16, "batch_size": 4, "warmup_steps": 2, "max_seconds": None,
           "threads": 1}


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def garden_zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def built_version(ws, garden_files: dict[str, bytes]) -> DatasetVersion:
    dataset = dataset_create(workspace=ws, name=f"Garden {ws.pk}")
    dataset_import_upload(dataset=dataset, filename="garden.zip", data=garden_zip(garden_files))
    version = dataset_version_create(dataset=dataset, options=OPTIONS)
    assert dataset_version_build(version_id=version.pk, worker_id="w") == "built"
    version.refresh_from_db()
    return version


@pytest.mark.django_db(transaction=True)
def test_import_build_train_promote_generate_and_roll_back(
        models_dir, datasets_dir, garden_files):
    # given workspace A's admin, and workspace B with a model folder of its own
    ws = factories.workspace()
    admin = factories.member(ws, Role.ADMIN)
    theirs = factories.workspace()
    their_folder = models_dir / "workspaces" / str(theirs.pk) / "run-1"
    their_folder.mkdir(parents=True)
    (their_folder / "model.safetensors").write_bytes(b"theirs")
    before = {"builtin": digest(models_dir / "builtin"), "theirs": digest(their_folder)}
    api = client_for(admin)
    # when A builds the bundled garden corpus and fine-tunes on its train split
    version = built_version(ws, garden_files)
    started = api.post(f"/api/v1/dataset-versions/{version.pk}/train/",
                       {"kind": "finetune", "parameters": FINETUNE}, format="json")
    assert started.status_code == 201, started.content
    assert train.apply(args=(started.json()["id"],)).get() == "trained"
    # then the run measured the held-out perplexity on the test split, lower after
    listed = api.get("/api/v1/model-versions/").json()["results"]
    assert [(v["number"], v["kind"], v["base"], v["dataset_version_id"]) for v in listed] == [
        (1, "finetune", "builtin", version.pk)]
    metrics = listed[0]["metrics"]
    assert metrics["heldout_perplexity_after"] < metrics["heldout_perplexity_before"]
    assert metrics["steps"] == 20 and metrics["tokens_per_second"] > 0
    assert metrics["documents"] == 6  # the train split's five and the test split's one
    v1 = ModelVersion.objects.get(pk=listed[0]["id"])
    assert v1.card.startswith(f"# run-{v1.training_run_id}")
    # and trained from scratch on the same version, a second version with its own card
    scratch = dataset_version_train(version=version, kind=TrainingKind.TRAIN,
                                    parameters=SCRATCH)
    assert train.apply(args=(scratch.pk,)).get() == "trained"
    v2 = ModelVersion.objects.get(training_run=scratch)
    assert (v2.number, v2.base) == (2, "")
    assert v2.card.startswith("# Workspace model")
    assert f"dataset version {version.pk}" in v2.card
    compared = api.get("/api/v1/model-versions/compare/", {"ids": f"{v2.pk},{v1.pk}"}).json()
    assert [(c["number"], c["profiles"]) for c in compared] == [
        (2, ["Trained house model"]), (1, ["Fine-tuned house model"])]
    # when v1 is promoted to a profile, a draft is written by it
    profile = factories.model_profile(ws, name="Garden writer", model="builtin")
    promoted = api.post(f"/api/v1/model-versions/{v1.pk}/promote/", {"profile_id": profile.pk},
                        format="json")
    assert promoted.status_code == 200, promoted.content
    profile.refresh_from_db()
    assert profile.model == v1.folder
    [text] = generate(GenerationRequest(prompt="Compost", variants=1, max_new_tokens=5,
                                        min_new_tokens=5, seed=1, model=local_model(profile),
                                        device="cpu"))
    assert (text.completion_tokens, text.model_revision) == (5, v1.revision)
    # and a rollback restores what the profile ran before
    rolled = api.post(f"/api/v1/model-profiles/{profile.pk}/rollback/")
    assert (rolled.status_code, rolled.json()["model"]) == (200, "builtin")
    again = api.post(f"/api/v1/model-profiles/{profile.pk}/rollback/")
    assert (again.status_code, again.json()) == (
        400, {"detail": "'Garden writer' has no promotion to roll back."})
    # and the shared built-in model and B's models are byte for byte as they were
    assert digest(models_dir / "builtin") == before["builtin"]
    assert digest(their_folder) == before["theirs"]
    assert sorted(p.name for p in (models_dir / "workspaces" / str(ws.pk)).iterdir()) == sorted(
        [v1.folder, v2.folder])


@pytest.mark.django_db
def test_another_workspace_cannot_reach_a_version_its_data_or_its_folder(
        ws, admin, models_dir, datasets_dir, garden_files):
    version = built_version(ws, garden_files)
    run = dataset_version_train(version=version, kind=TrainingKind.FINETUNE)
    mine = factories.model_version(ws, run=run, folder="run-9")
    other = factories.workspace()
    stranger = factories.member(other, Role.ADMIN)
    their_profile = factories.model_profile(other, name="Theirs")
    api = client_for(stranger)
    # A's version by id: not found, to read, promote, archive, compare or train on
    assert api.get(f"/api/v1/model-versions/{mine.pk}/").status_code == 404
    assert api.post(f"/api/v1/model-versions/{mine.pk}/promote/",
                    {"profile_id": their_profile.pk}, format="json").status_code == 404
    assert api.post(f"/api/v1/model-versions/{mine.pk}/archive/").status_code == 404
    assert api.post(f"/api/v1/dataset-versions/{version.pk}/train/",
                    {"kind": "finetune"}, format="json").status_code == 404
    compared = api.get("/api/v1/model-versions/compare/", {"ids": f"{mine.pk},{mine.pk}"})
    assert (compared.status_code, compared.json()) == (
        400, {"detail": f"No model version {mine.pk}, {mine.pk} in this workspace."})
    # nor by a service: a base version or a profile of another workspace
    their_version = built_version(other, garden_files)
    with pytest.raises(DomainError, match=f"No model version {mine.pk} in this workspace"):
        dataset_version_train(version=their_version, kind=TrainingKind.FINETUNE,
                              base_version_id=mine.pk)
    with pytest.raises(DomainError, match="not an active version of this workspace"):
        training_run_create(workspace_id=other.pk, kind=TrainingKind.FINETUNE, base_version=mine)
    # nor by pointing a profile at A's folder by path
    a_folder = models_dir / "workspaces" / str(ws.pk) / "run-9"
    a_folder.mkdir(parents=True)
    refused = api.patch(f"/api/v1/model-profiles/{their_profile.pk}/",
                        {"model": str(a_folder)}, format="json")
    assert refused.status_code == 400
    assert str(ws.pk) not in refused.content.decode()
    # and a reviewer or editor of A is refused the registry
    for role in (Role.EDITOR, Role.REVIEWER):
        assert client_for(factories.member(ws, role)).get(
            "/api/v1/model-versions/").status_code == 403


@pytest.mark.django_db
def test_a_run_whose_data_path_leaves_its_workspace_fails(ws, models_dir, datasets_dir,
                                                          garden_files):
    other = factories.workspace()
    theirs = built_version(other, garden_files)
    run = training_run_create(
        workspace_id=ws.pk, kind=TrainingKind.FINETUNE, parameters=FINETUNE,
        data_path=f"workspaces/{ws.pk}/../{other.pk}/dataset-{theirs.dataset_id}/v1")
    assert train.apply(args=(run.pk,)).get() == "failed"
    run.refresh_from_db()
    assert (run.state, run.error) == (
        TrainingState.FAILED, "The run's dataset version is not readable in its workspace.")


@pytest.mark.django_db
def test_archiving_and_promotion_rules(ws, models_dir, datasets_dir, garden_files):
    version = built_version(ws, garden_files)
    run = dataset_version_train(version=version, kind=TrainingKind.FINETUNE)
    v1 = factories.model_version(ws, run=run)
    profile = factories.model_profile(ws, name="Writer", model=run.output_model)
    with pytest.raises(DomainError, match="Version 1 is in use by Writer"):
        model_version_archive(version=v1)
    ModelProfile.objects.filter(pk=profile.pk).update(model="builtin")
    assert model_version_archive(version=v1).archived_at is not None
    answer = client_for(factories.member(ws, Role.ADMIN)).post(
        f"/api/v1/model-versions/{v1.pk}/promote/", {"profile_id": profile.pk}, format="json")
    assert (answer.status_code, answer.json()) == (
        400, {"detail": "Version 1 is archived; it cannot be promoted."})
    untestable = dataset_version_create(dataset=version.dataset,
                                        options={**OPTIONS, "test_share": 0.0})
    dataset_version_build(version_id=untestable.pk, worker_id="w")
    untestable.refresh_from_db()
    with pytest.raises(DomainError, match="Version 2 needs documents in its train and test"):
        dataset_version_train(version=untestable, kind=TrainingKind.FINETUNE)
    unbuilt = dataset_version_create(dataset=version.dataset, options=OPTIONS)
    with pytest.raises(DomainError, match=r"Version 3 of 'Garden \d+' is not built \(queued\)"):
        dataset_version_train(version=unbuilt, kind=TrainingKind.FINETUNE)
