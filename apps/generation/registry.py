"""The model registry of a workspace: the versions its training runs wrote, compared side
by side, promoted to a model profile, rolled back, archived.

A version lives in the workspace's own models folder; every action here takes the version
and the profile from the caller's workspace, so another workspace's version is never
named, and the shared built-in model is never written (it is not a version).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from apps.core.errors import DomainError
from apps.core.services import Actor, audit_record
from apps.generation.models import Backend, ModelProfile, ModelPromotion, ModelVersion
from apps.generation.services import model_profile_update

COMPARE_MAX = 10


def model_versions(*, workspace_id: int) -> QuerySet[ModelVersion]:
    return ModelVersion.objects.filter(workspace_id=workspace_id).select_related("training_run")


def model_versions_compare(*, workspace_id: int, ids: Sequence[int]) -> list[dict[str, Any]]:
    """The versions named, in the order given, side by side: their figures, what they were
    trained on and from, and the profiles using them. An id of another workspace is refused
    like one that does not exist."""
    if not 2 <= len(ids) <= COMPARE_MAX:
        raise DomainError(f"Compare 2 to {COMPARE_MAX} versions at a time.")
    found = {v.pk: v for v in model_versions(workspace_id=workspace_id).filter(pk__in=ids)}
    missing = [str(i) for i in ids if i not in found]
    if missing:
        raise DomainError(f"No model version {', '.join(missing)} in this workspace.")
    used: dict[str, list[str]] = {}
    for name, model in ModelProfile.objects.filter(
            workspace_id=workspace_id, model__in=[v.folder for v in found.values()]
    ).values_list("name", "model"):
        used.setdefault(model, []).append(name)
    return [{"id": v.pk, "number": v.number, "folder": v.folder, "revision": v.revision,
             "kind": v.kind, "base": v.base, "dataset_version_id": v.dataset_version_id,
             "archived": v.archived_at is not None, "metrics": v.metrics,
             "profiles": sorted(used.get(v.folder, [])), "created_at": v.created_at}
            for v in (found[i] for i in ids)]


def _version_fits(version: ModelVersion, profile: ModelProfile, *, use: str,
                  stranger: str) -> None:
    """Refuse `version` on `profile` (to be `use`d: promoted, a candidate) with `stranger` when
    they are of two workspaces (the one the caller did not name is the stranger), when the
    version is archived, or when the profile calls a model server (it runs no local folder)."""
    if version.workspace_id != profile.workspace_id:
        raise DomainError(stranger)
    if version.archived_at is not None:
        raise DomainError(f"Version {version.number} is archived; it cannot be {use}.")
    if refusal := profile_not_local(profile):
        raise DomainError(refusal)


def profile_not_local(profile: ModelProfile) -> str:
    """Why `profile` cannot run a registry version, or "": one that calls a model server
    runs no local folder."""
    if profile.backend == Backend.OPENAI:
        return (f"{profile.name!r} calls a model server; only a profile with a local backend "
                "(builtin or transformers) runs a registry version.")
    return ""


@transaction.atomic
def model_version_promote(*, version: ModelVersion, profile: ModelProfile,
                          actor: Actor = None) -> ModelPromotion:
    """Point a local-model profile of the version's workspace at the version; what it ran
    before is kept for `model_profile_rollback`."""
    _version_fits(version, profile, use="promoted",
                  stranger=f"No model profile {profile.pk} in this workspace.")
    promotion = ModelPromotion.objects.create(profile=profile, version=version,
                                              previous_model=profile.model,
                                              previous_backend=profile.backend)
    if profile.candidate_version_id == version.pk:  # the A/B test is decided
        profile.candidate_version, profile.candidate_share = None, 0.0
        profile.save(update_fields=["candidate_version", "candidate_share", "updated_at"])
    model_profile_update(profile=profile, model=version.folder, actor=actor)
    audit_record(workspace_id=version.workspace_id, action="model_version.promoted",
                 subject=version, actor=actor,
                 after={"profile_id": profile.pk, "previous_model": promotion.previous_model})
    return promotion


@transaction.atomic
def model_profile_candidate_set(*, profile: ModelProfile, version: ModelVersion | None,
                                share: float, actor: Actor = None,
                                actor_label: str = "") -> ModelProfile:
    """Start (or change) an A/B test: `share` (0 to 1) of the profile's briefs from now on
    are written by `version`, drawn per brief; with no version, the test ends. Refused for
    another workspace's or an archived version, the version the profile already runs, and
    a profile that calls a model server."""
    if not 0.0 <= share <= 1.0:
        raise DomainError("The candidate's share must be from 0 to 1.")
    if version is not None:
        _version_fits(version, profile, use="a candidate",
                      stranger=f"No model version {version.pk} in this workspace.")
        if version.folder == profile.model:
            raise DomainError(f"{profile.name!r} already runs version {version.number}.")
    before = {"candidate_version_id": profile.candidate_version_id,
              "candidate_share": profile.candidate_share}
    profile.candidate_version, profile.candidate_share = version, share if version else 0.0
    profile.save(update_fields=["candidate_version", "candidate_share", "updated_at"])
    audit_record(workspace_id=profile.workspace_id, action="model_profile.candidate_set",
                 subject=profile, actor=actor, actor_label=actor_label, before=before,
                 after={"candidate_version_id": profile.candidate_version_id,
                        "candidate_share": profile.candidate_share})
    return profile


@transaction.atomic
def model_profile_rollback(*, profile: ModelProfile, actor: Actor = None) -> ModelProfile:
    """The profile's last promotion undone: it runs what it ran before. Each rollback
    goes one promotion further back."""
    promotion = (ModelPromotion.objects.select_for_update()
                 .filter(profile=profile, rolled_back_at__isnull=True).first())
    if promotion is None:
        raise DomainError(f"{profile.name!r} has no promotion to roll back.")
    promotion.rolled_back_at = timezone.now()
    promotion.save(update_fields=["rolled_back_at"])
    return model_profile_update(profile=profile, model=promotion.previous_model,
                                backend=promotion.previous_backend, actor=actor)


@transaction.atomic
def model_version_archive(*, version: ModelVersion, actor: Actor = None) -> ModelVersion:
    """Retire a version from promotion (its folder stays, for what it wrote); refused while
    a profile of the workspace uses it."""
    using = list(ModelProfile.objects.filter(
        Q(model=version.folder) | Q(candidate_version=version), workspace_id=version.workspace_id,
    ).values_list("name", flat=True))
    if using:
        raise DomainError(f"Version {version.number} is in use by {', '.join(sorted(using))}; "
                          "promote another version there first.")
    if version.archived_at is None:
        version.archived_at = timezone.now()
        version.save(update_fields=["archived_at"])
        audit_record(workspace_id=version.workspace_id, action="model_version.archived",
                     subject=version, actor=actor)
    return version


def model_profiles_promotable(*, workspace_id: int) -> QuerySet[ModelProfile]:
    """The workspace's local-model profiles (a version can be promoted to them), each with
    `can_roll_back`: whether a promotion of it is left to undo, and its candidate version.
    One query."""
    return (ModelProfile.objects.filter(workspace_id=workspace_id)
            .exclude(backend=Backend.OPENAI).order_by("name").select_related("candidate_version")
            .annotate(can_roll_back=Exists(ModelPromotion.objects.filter(
                profile=OuterRef("pk"), rolled_back_at__isnull=True))))
