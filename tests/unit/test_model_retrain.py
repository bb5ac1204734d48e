"""Scheduled retraining: a workspace's policy fires once N new pieces are approved (import and
build), a later tick starts a fine-tuning run on the finished build, and the run's version
becomes the profile's A/B candidate, never its model; each tick does its step once."""

from __future__ import annotations

from pathlib import Path

import pytest

from apps.accounts.models import Role
from apps.core.errors import DomainError
from apps.core.models import AuditEvent, Workspace
from apps.datasets.models import DatasetImport, DatasetVersion, ImportSource, RetrainPolicy
from apps.datasets.retraining import retrain_policies_tick, retrain_policy_set
from apps.datasets.services import dataset_create, dataset_version_build, dataset_version_train
from apps.datasets.tasks import retrain_tick
from apps.generation.models import ModelProfile, ModelVersion, TrainingRun, TrainingState
from apps.generation.training import HOUSE_MODEL_PROFILES
from apps.workflow.services import review_approve
from tests import factories
from tests.clients import logged_in
from workers.tasks.generation import train

pytestmark = pytest.mark.django_db
TINY = {"steps": 20, "max_seconds": None, "threads": 1}


def approve_pieces(ws: Workspace, count: int) -> None:
    reviewer = factories.member(ws, Role.REVIEWER)
    for _ in range(count):
        brief = factories.brief_in_review(ws, scores=(0.8,))
        review_approve(brief=brief, draft_id=brief.drafts.get().pk, reviewer=reviewer)


def test_the_policy_service_refuses_what_it_cannot_run(ws: Workspace) -> None:
    # given a dataset and profiles of the workspace, and another workspace's
    dataset = dataset_create(workspace=ws, name="Feedback")
    profile = factories.model_profile(ws, name="House")
    remote = factories.model_profile(ws, name="Remote", backend="openai", model="gpt",
                                     base_url="https://example.com/v1")
    other = factories.workspace(name="Other")
    theirs, their_profile = dataset_create(workspace=other, name="X"), factories.model_profile(other)
    good = {"workspace": ws, "enabled": True, "approved_threshold": 5, "dataset": dataset,
            "profile": profile, "candidate_share": 0.2}
    # then each refusal says why, and nothing is stored
    for change, reason in (
            ({"dataset": theirs}, f"No dataset {theirs.pk} in this workspace."),
            ({"profile": their_profile}, f"No model profile {their_profile.pk} in this workspace."),
            ({"profile": remote}, "'Remote' calls a model server"),
            ({"approved_threshold": 0}, "N must be from 1 to 100,000."),
            ({"candidate_share": 0.0}, "share must be above 0 and at most 1"),
            ({"training_parameters": {"steps": 0}}, "'steps' must be a whole number from 1"),
            ({"training_parameters": {"n_layer": 2}}, "Unknown parameter 'n_layer'")):
        with pytest.raises(DomainError, match=reason.replace("(", r"\(").replace(".", r"\.")):
            retrain_policy_set(**{**good, **change})
    assert not RetrainPolicy.objects.exists()
    # and a good policy is stored once per workspace, each change audited
    admin = factories.member(ws, Role.ADMIN)
    retrain_policy_set(**good, actor=admin)
    policy = retrain_policy_set(**{**good, "approved_threshold": 7}, actor=admin)
    assert RetrainPolicy.objects.get(workspace=ws).approved_threshold == 7 == (
        policy.approved_threshold)
    audits = AuditEvent.objects.filter(action="retrain_policy.set").order_by("id")
    assert [(a.before or {}).get("approved_threshold") for a in audits] == [None, 5]
    assert audits.last().after["approved_threshold"] == 7


def test_ticks_import_and_build_at_n_then_train_a_candidate_never_promoted(
        ws: Workspace, models_dir: Path, datasets_dir: Path, garden_files: dict[str, bytes]
) -> None:
    # given a dataset of the garden archive, built once, a profile running the built-in
    # model, and pieces approved before the policy existed (which do not count)
    built = factories.built_dataset_version(ws, garden_files)
    profile = factories.model_profile(ws, name="House")
    approve_pieces(ws, 2)
    retrain_policy_set(workspace=ws, enabled=True, approved_threshold=3, dataset=built.dataset,
                       profile=profile, candidate_share=0.25, training_parameters=TINY)
    # when two new pieces are approved, the tick waits
    approve_pieces(ws, 2)
    policy = RetrainPolicy.objects.get(workspace=ws)
    assert retrain_tick.apply().get() == {policy.pk: "waiting"}  # the beat's task
    assert not DatasetImport.objects.filter(source=ImportSource.APPROVED).exists()
    # at the third, it imports the approved revisions and queues a build, once
    approve_pieces(ws, 1)
    assert retrain_policies_tick() == {policy.pk: "building"}
    assert retrain_policies_tick() == {policy.pk: "building"}
    imported = DatasetImport.objects.get(source=ImportSource.APPROVED)
    assert imported.documents == 5  # every approved revision, the older ones too
    version = DatasetVersion.objects.get(dataset=built.dataset, number=2)
    assert version.options == built.options and imported.pk in version.import_ids
    client = logged_in(factories.member(ws, Role.ADMIN))
    assert f'href="/datasets/versions/{version.pk}/">Garden v2</a>' in (
        client.get("/models/").content.decode())  # the registry page shows the build
    # and once the build is done, the next tick starts one candidate run on it
    assert dataset_version_build(version_id=version.pk, worker_id="w") == "built"
    assert retrain_policies_tick() == {policy.pk: "training"}
    assert retrain_policies_tick() == {policy.pk: "training"}
    run = TrainingRun.objects.get(dataset_version_id=version.pk)
    assert (run.kind, run.candidate_for_id, run.candidate_share, run.parameters) == (
        "finetune", profile.pk, 0.25, TINY)
    assert f'?run={run.pk}">{run.pk}</a> (queued)' in client.get("/models/").content.decode()
    # when the run is trained, its version is the profile's candidate, never its model,
    # and no house-model profile points at it
    assert train.apply(args=(run.pk,)).get() == "trained"
    written = ModelVersion.objects.get(training_run=run)
    profile.refresh_from_db()
    assert (profile.candidate_version_id, profile.candidate_share, profile.model) == (
        written.pk, 0.25, "")
    assert not ModelProfile.objects.filter(workspace=ws, name__in=HOUSE_MODEL_PROFILES.values()
                                           ).exists()
    assert AuditEvent.objects.filter(action="model_profile.candidate_set",
                                     actor_label="retrain").count() == 1
    # and the policy waits for the next N
    assert retrain_policies_tick() == {policy.pk: "waiting"}
    assert TrainingRun.objects.count() == 1


def test_a_refused_run_is_kept_as_the_policys_error(ws: Workspace, datasets_dir: Path,
                                                    garden_files: dict[str, bytes]) -> None:
    # given a policy whose build has no test split (so no run can measure its perplexity)
    built = factories.built_dataset_version(ws, garden_files)
    profile = factories.model_profile(ws, name="House")
    retrain_policy_set(workspace=ws, enabled=True, approved_threshold=1, dataset=built.dataset,
                       profile=profile, candidate_share=0.5)
    DatasetVersion.objects.filter(pk=built.pk).update(options={**built.options,
                                                               "test_share": 0.0})
    approve_pieces(ws, 1)
    policy = RetrainPolicy.objects.get(workspace=ws)
    assert retrain_policies_tick() == {policy.pk: "building"}
    policy.refresh_from_db()
    dataset_version_build(version_id=policy.pending_version_id, worker_id="w")
    # when the tick tries to start the run, the refusal is kept and the build forgotten
    assert retrain_policies_tick() == {policy.pk: "refused"}
    policy.refresh_from_db()
    assert "needs documents in its train and test splits" in policy.last_error
    assert policy.pending_version is None and not TrainingRun.objects.exists()
    # and a disabled policy is not ticked at all
    RetrainPolicy.objects.filter(pk=policy.pk).update(enabled=False)
    assert retrain_policies_tick() == {}


def test_a_candidate_run_whose_profile_was_deleted_promotes_nothing(
        ws: Workspace, models_dir: Path, datasets_dir: Path, garden_files: dict[str, bytes]
) -> None:
    built = factories.built_dataset_version(ws, garden_files)
    profile = factories.model_profile(ws, name="House")
    run = dataset_version_train(version=built, kind="finetune", parameters=TINY,
                                candidate_for=profile, candidate_share=0.5)
    profile.delete()
    assert train.apply(args=(run.pk,)).get() == "trained"
    assert ModelVersion.objects.filter(training_run=run).exists()
    assert not ModelProfile.objects.filter(workspace=ws).exists()
    assert TrainingRun.objects.get(pk=run.pk).state == TrainingState.SUCCEEDED
