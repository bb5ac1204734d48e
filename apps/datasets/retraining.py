"""Scheduled retraining: feedback closes the loop without promoting anything by itself.

A workspace's `RetrainPolicy` is moved on by a beat tick in two phases, since a build runs on
its own worker: (1) once N new approved pieces have arrived, the approved revisions are
imported into the policy's dataset and a version is built; (2) on a later tick, once that
build succeeded, a fine-tuning run on it starts, marked as its profile's candidate run, so
its version becomes the profile's A/B candidate (`training_run_succeed`), never its model.
Promotion stays an admin's decision, on the registry page.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from apps.core.errors import DomainError
from apps.core.models import Workspace
from apps.core.services import Actor, audit_record
from apps.datasets.models import Dataset, DatasetVersion, RetrainPolicy, VersionState
from apps.datasets.selectors import approved_revisions_after
from apps.datasets.services import (
    dataset_import_approved,
    dataset_version_create,
    dataset_version_train,
)
from apps.generation.models import (
    TRAINING_ACTIVE,
    ModelProfile,
    ModelVersion,
    TrainingKind,
)
from apps.generation.registry import profile_not_local
from apps.generation.training import training_parameters_errors

APPROVED_THRESHOLD_MAX = 100_000


def retrain_policy_get(*, workspace_id: int) -> RetrainPolicy | None:
    return (RetrainPolicy.objects.filter(workspace_id=workspace_id)
            .select_related("dataset", "base_version", "profile", "pending_version",
                            "last_run").first())


@transaction.atomic
def retrain_policy_set(*, workspace: Workspace, enabled: bool, approved_threshold: int,
                       dataset: Dataset, profile: ModelProfile, candidate_share: float,
                       base_version: ModelVersion | None = None,
                       training_parameters: dict[str, Any] | None = None,
                       actor: Actor = None) -> RetrainPolicy:
    """Create or change the workspace's retrain policy (audited). Refused, with every reason:
    a dataset, profile or base version of another workspace, an archived base version, a
    profile that calls a model server, N outside 1..100,000, a share outside (0, 1], and
    fine-tuning parameters the training rules refuse. A new policy counts the approved
    pieces that arrive from now on; a changed one keeps its count and state."""
    errors = []
    if dataset.workspace_id != workspace.pk:
        errors.append(f"No dataset {dataset.pk} in this workspace.")
    if profile.workspace_id != workspace.pk:
        errors.append(f"No model profile {profile.pk} in this workspace.")
    elif refusal := profile_not_local(profile):
        errors.append(refusal)
    if base_version is not None and (base_version.workspace_id != workspace.pk
                                     or base_version.archived_at is not None):
        errors.append("The base version is not an active version of this workspace.")
    if not 1 <= approved_threshold <= APPROVED_THRESHOLD_MAX:
        errors.append(f"N must be from 1 to {APPROVED_THRESHOLD_MAX:,}.")
    if not 0.0 < candidate_share <= 1.0:
        errors.append("The candidate's share must be above 0 and at most 1.")
    errors += training_parameters_errors(kind=TrainingKind.FINETUNE,
                                         parameters=training_parameters or {})
    if errors:
        raise DomainError(" ".join(errors))
    values = {"enabled": enabled, "approved_threshold": approved_threshold, "dataset": dataset,
              "profile": profile, "candidate_share": candidate_share,
              "base_version": base_version, "training_parameters": training_parameters or {}}
    policy = RetrainPolicy.objects.select_for_update().filter(workspace=workspace).first()
    before = _settings(policy) if policy else None
    if policy is None:
        _, through = approved_revisions_after(workspace_id=workspace.pk, revision_id=0)
        policy = RetrainPolicy(workspace=workspace, approved_through=through)
    for name, value in values.items():
        setattr(policy, name, value)
    policy.save()
    audit_record(workspace_id=workspace.pk, action="retrain_policy.set", subject=policy,
                 actor=actor, before=before, after=_settings(policy))
    return policy


def _settings(policy: RetrainPolicy) -> dict[str, Any]:
    return {"enabled": policy.enabled, "approved_threshold": policy.approved_threshold,
            "dataset_id": policy.dataset_id, "profile_id": policy.profile_id,
            "candidate_share": policy.candidate_share, "base_version_id": policy.base_version_id,
            "training_parameters": policy.training_parameters}


def retrain_policies_tick() -> dict[int, str]:
    """Move every enabled policy on by one phase (the beat task's body): {policy id: what
    happened}. Each policy in a transaction of its own."""
    return {pk: retrain_policy_tick(policy_id=pk) for pk in
            RetrainPolicy.objects.filter(enabled=True).order_by("pk").values_list("pk", flat=True)}


@transaction.atomic
def retrain_policy_tick(*, policy_id: int) -> str:
    """One step of a policy, under its row's lock, so a tick delivered twice, or two ticks at
    once, do each step once:

    - a build pending: still building → "building"; succeeded → a candidate run starts on it
      ("training"); failed or cancelled → forgotten, with the reason ("build failed");
    - its last run still queued or running → "training" (one retrain at a time);
    - fewer than N approved pieces since the last retrain → "waiting";
    - else the approved revisions are imported and a build queued ("building"), built with
      the options of the dataset's latest built version (the engine's defaults without one).

    A refusal (a spent budget, a split without test documents, an archived base) is kept
    as the policy's `last_error` for the registry page; the retrain waits for the next N.
    """
    # Only the policy row is locked: its nullable relations come in the same query (of=self).
    policy = (RetrainPolicy.objects.select_for_update(of=("self",)).select_related(
        "dataset", "profile", "pending_version", "last_run").filter(pk=policy_id).first())
    if policy is None or not policy.enabled:
        return "disabled"
    try:
        with transaction.atomic():
            outcome = _step(policy)
    except DomainError as exc:
        policy.pending_version, policy.last_error = None, str(exc)[:1000]
        outcome = "refused"
    policy.save(update_fields=["pending_version", "last_run", "approved_through", "last_error",
                               "updated_at"])
    return outcome


def _step(policy: RetrainPolicy) -> str:
    pending = policy.pending_version
    if pending is not None:
        if pending.state in (VersionState.QUEUED, VersionState.RUNNING):
            return "building"
        policy.pending_version = None
        if pending.state != VersionState.SUCCEEDED:
            policy.last_error = (f"The build of version {pending.number} of "
                                 f"{policy.dataset.name!r} {pending.state}: {pending.error}")[:1000]
            return "build failed"
        policy.last_run = dataset_version_train(
            version=pending, kind=TrainingKind.FINETUNE, parameters=policy.training_parameters,
            base_version_id=policy.base_version_id, candidate_for=policy.profile,
            candidate_share=policy.candidate_share)
        return "training"
    if policy.last_run is not None and policy.last_run.state in TRAINING_ACTIVE:
        return "training"
    arrived, through = approved_revisions_after(workspace_id=policy.workspace_id,
                                                revision_id=policy.approved_through)
    if arrived < policy.approved_threshold:
        return "waiting"
    latest = (DatasetVersion.objects.filter(dataset=policy.dataset,
                                            state=VersionState.SUCCEEDED).first())
    dataset_import_approved(dataset=policy.dataset, actor=None)
    policy.pending_version = dataset_version_create(
        dataset=policy.dataset, options=latest.options if latest else None)
    policy.approved_through, policy.last_error = through, ""
    audit_record(workspace_id=policy.workspace_id, action="retrain_policy.fired",
                 subject=policy, actor_label="retrain",
                 after={"approved": arrived, "dataset_version_id": policy.pending_version.pk})
    return "building"
