"""Training as a job: fine-tuning on published texts, loss streamed, perplexity recorded."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from apps.accounts.models import Role
from apps.core.errors import DomainError
from apps.generation.models import ModelProfile, TrainingKind, TrainingRun, TrainingState
from apps.generation.training import training_run_create
from apps.publishing.selectors import published_texts
from apps.publishing.services import publication_claim, publication_engagement_record, publication_succeed
from apps.publishing.targets import target_create
from apps.reviews.services import revision_edit
from apps.workflow.services import review_approve
from tests import factories
from tests.generation_fixtures import receive_all
from workers.generation.builtin.finetune import FineTunePlan, finetune_model, split_documents
from workers.generation.engine import InvalidRequest, generate
from workers.generation.types import GenerationRequest
from workers.tasks.generation import train

HOUSE_TEXTS = [
    f"Compost note {n}: layer green kitchen scraps with brown leaves, keep the heap damp, "
    f"turn it every week, and in {n + 2} months the garden gets dark crumbly compost."
    for n in range(10)
]


def folder_digest(folder: Path) -> dict[str, str]:
    """Every file of `folder` by relative name, with the SHA-256 of its bytes."""
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def publish(ws, text: str, engagement: dict[str, int] | None = None) -> None:
    """A brief through review (its draft edited to `text`) to a published file publication,
    then its engagement pulled as given (None: never pulled)."""
    brief = factories.brief_in_review(ws, scores=(0.8,))
    reviewer = factories.member(ws, Role.REVIEWER)
    draft = brief.drafts.get()
    revision_edit(draft=draft, text=text, author=reviewer)
    target = target_create(workspace=ws, name=f"Site {brief.pk}", kind="file",
                           config={"folder": "site"})
    review_approve(brief=brief, draft_id=draft.pk, reviewer=reviewer, target_ids=[target.pk])
    publication = publication_claim(publication_id=brief.publications.get().pk, worker_id="io")
    publication_succeed(publication=publication, external_id=f"post-{brief.pk}")
    if engagement is not None:
        publication_engagement_record(publication_id=publication.pk, engagement=engagement)


def test_fine_tuning_lowers_held_out_perplexity_on_the_house_texts(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    losses: list[tuple[int, float]] = []
    report = finetune_model(tiny_model_dir, tmp_path / "house", HOUSE_TEXTS,
                            FineTunePlan(steps=30, learning_rate=3e-3, max_seconds=None),
                            on_loss=lambda step, loss: losses.append((step, loss)))
    assert report.documents == 10
    assert report.heldout_perplexity_after < report.heldout_perplexity_before
    assert [step for step, _ in losses] == [10, 20, 30]
    assert report.revision != report.base_revision
    metadata = json.loads((tmp_path / "house" / "training.json").read_text())
    assert metadata["heldout_perplexity_after"] == report.heldout_perplexity_after
    assert "held-out perplexity before" in (tmp_path / "house" / "README.md").read_text()
    # and the fine-tuned folder serves generation like any model
    [text] = generate(GenerationRequest(prompt="Compost note", variants=1, max_new_tokens=5,
                                        min_new_tokens=5, seed=1, model=str(tmp_path / "house"),
                                        device="cpu"))
    assert (text.completion_tokens, text.model_revision) == (5, report.revision)


def test_documents_are_held_out_whole_and_two_are_needed() -> None:
    train_texts, heldout = split_documents([f"t{n}" for n in range(11)])
    assert heldout == ["t4", "t9"]
    assert len(train_texts) == 9
    assert split_documents(["a", "b"]) == (["a"], ["b"])
    with pytest.raises(InvalidRequest, match="at least two published texts"):
        split_documents(["only one", "  "])


def test_a_text_given_twice_trains_twice_or_is_held_out_once() -> None:
    texts = ["a", "a", "b", "c", "c", "d", "e", "e", "f"]
    assert split_documents(texts) == (["a", "a", "b", "c", "c", "d", "f"], ["e"])
    with pytest.raises(InvalidRequest, match=r"at least two published texts .*; found 1\."):
        split_documents(["only one", "only one"])


@pytest.mark.django_db
def test_the_best_received_quarter_of_published_texts_is_learnt_twice(
        django_assert_num_queries) -> None:
    # given seven published texts, oldest first: A drew 12 reactions, B was never pulled,
    # C drew 3, D's target counted nothing, E drew 30 clicks, F nothing, G 12 favourites
    ws = factories.workspace()
    for text, engagement in (("A", {"likes": 10, "shares": 2}), ("B", None), ("C", {"replies": 3}),
                             ("D", {}), ("E", {"clicks": 30}), ("F", {"likes": 0}),
                             ("G", {"likes": 12})):
        publish(ws, text, engagement)
    # when the fine-tuning data is read, then the top quarter of the five with engagement data
    # (two, rounded up: 30 and 12, and the tie with 12) comes twice, the rest once, in two queries
    with django_assert_num_queries(2):
        texts = published_texts(workspace_id=ws.pk)
    assert texts == ["A", "A", "B", "C", "D", "E", "E", "F", "G", "G"]
    # and a least engagement of 3 leaves out the texts below it and those without data; of
    # the four kept, the top quarter is E alone
    assert published_texts(workspace_id=ws.pk, min_engagement=3) == ["A", "C", "E", "E", "G"]
    assert published_texts(workspace_id=ws.pk, min_engagement=31) == []


@pytest.mark.django_db(transaction=True)
def test_a_fine_tuning_run_learns_the_published_texts_and_streams_its_loss(
    settings, tiny_model_dir: Path, tmp_path: Path
) -> None:
    # given a workspace that published four texts, and its dashboard listening
    models_dir = tmp_path / "models"
    shutil.copytree(tiny_model_dir, models_dir / "builtin")
    settings.MODELS_DIR = models_dir
    builtin_before = folder_digest(models_dir / "builtin")
    ws = factories.workspace()
    for text in HOUSE_TEXTS[:4]:
        publish(ws, text)
    assert published_texts(workspace_id=ws.pk) == HOUSE_TEXTS[:4]
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(f"workspace.{ws.pk}", channel)
    # when a fine-tuning run is created and a worker runs it
    run = training_run_create(workspace_id=ws.pk, kind=TrainingKind.FINETUNE,
                              parameters={"steps": 20, "learning_rate": 0.003,
                                          "max_seconds": None})
    assert train.apply(args=(run.pk,)).get() == "trained"
    # then the run records what it learned, perplexity before and after
    run.refresh_from_db()
    assert (run.state, run.steps, run.documents) == (TrainingState.SUCCEEDED, 20, 4)
    assert run.heldout_perplexity_after < run.heldout_perplexity_before
    assert [step for step, _ in run.loss_curve] == [10, 20]
    # and the workspace can pick the fine-tuned model, a new folder of its own
    profile = ModelProfile.objects.get(workspace=ws, name="Fine-tuned house model")
    folder = models_dir / "workspaces" / str(ws.pk) / f"run-{run.pk}"
    assert (run.output_model, profile.model) == (f"run-{run.pk}", f"run-{run.pk}")
    assert json.loads((folder / "training.json").read_text())["revision"] == run.revision
    # and the shared built-in model it started from is left as it was
    assert folder_digest(models_dir / "builtin") == builtin_before
    # and the loss reached the dashboard live
    progress = [m["event"] for m in receive_all(channel)
                if m["event"]["type"] == "training.progress"]
    assert [e["data"]["step"] for e in progress] == [10, 20]
    assert progress[-1]["data"]["loss"] == run.loss_curve[-1][1]
    # and a second delivery of the message does nothing
    assert train.apply(args=(run.pk,)).get() == "skipped"


@pytest.mark.django_db(transaction=True)
def test_fine_tuning_without_published_texts_fails_with_the_reason(
    settings, tiny_models_dir: Path
) -> None:
    settings.MODELS_DIR = tiny_models_dir
    ws = factories.workspace()
    run = training_run_create(workspace_id=ws.pk, kind=TrainingKind.FINETUNE)
    assert train.apply(args=(run.pk,)).get() == "failed"
    run.refresh_from_db()
    assert run.state == TrainingState.FAILED
    assert run.error == ("Fine-tuning needs at least two published texts (one is held out to "
                         "measure it); found 0.")


@pytest.mark.django_db(transaction=True)
def test_fine_tuning_with_too_high_a_least_engagement_fails_with_the_reason() -> None:
    # given two published texts that drew 3 and 5 reactions
    ws = factories.workspace()
    publish(ws, HOUSE_TEXTS[0], {"likes": 3})
    publish(ws, HOUSE_TEXTS[1], {"likes": 4, "replies": 1})
    # when a fine-tuning run asks for texts with at least 6
    run = training_run_create(workspace_id=ws.pk, kind=TrainingKind.FINETUNE,
                              parameters={"min_engagement": 6, "steps": 10})
    # then the worker fails it and says why
    assert train.apply(args=(run.pk,)).get() == "failed"
    run.refresh_from_db()
    assert (run.state, run.error) == (
        TrainingState.FAILED,
        "No published texts with at least 6 engagement (likes, shares, replies, clicks and "
        "signups together) to fine-tune on; lower min_engagement.")


@pytest.mark.django_db(transaction=True)
def test_training_from_scratch_writes_a_new_model_of_the_workspace(
        settings, tmp_path: Path, tiny_model_dir: Path) -> None:
    # given the shared built-in model
    models_dir = tmp_path / "models"
    shutil.copytree(tiny_model_dir, models_dir / "builtin")
    builtin_before = folder_digest(models_dir / "builtin")
    settings.MODELS_DIR = models_dir
    ws = factories.workspace()
    run = training_run_create(workspace_id=ws.pk, kind=TrainingKind.TRAIN, parameters={
        "steps": 10, "vocab_size": 300, "n_layer": 1, "n_head": 2, "n_embd": 16,
        "block_size": 32, "max_documents": 60, "max_seconds": None, "eval_blocks": 4})
    assert train.apply(args=(run.pk,)).get() == "trained"
    run.refresh_from_db()
    assert (run.state, run.steps, len(run.loss_curve)) == (TrainingState.SUCCEEDED, 10, 1)
    assert run.heldout_perplexity_after > 1
    # then the model is a new folder of the workspace's, which its profile names, and the
    # built-in model every workspace reads is untouched
    assert (models_dir / "workspaces" / str(ws.pk) / f"run-{run.pk}" / "config.json").is_file()
    assert ModelProfile.objects.get(workspace=ws, name="Trained house model").model \
        == f"run-{run.pk}"
    assert folder_digest(models_dir / "builtin") == builtin_before
    with pytest.raises(DomainError, match="Unknown parameter 'layers' for train; known: steps,"):
        training_run_create(workspace_id=ws.pk, kind=TrainingKind.TRAIN, parameters={"layers": 3})
    # and a run stored before a rule changed is checked again by the worker
    stale = TrainingRun.objects.create(workspace=ws, kind=TrainingKind.TRAIN,
                                       parameters={"layers": 3}, output_model="builtin")
    assert train.apply(args=(stale.pk,)).get() == "failed"
    assert TrainingRun.objects.get(pk=stale.pk).error.startswith(
        "Unknown parameter 'layers' for train; known: steps,")
