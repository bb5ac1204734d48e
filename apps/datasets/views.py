"""Dashboard pages from a team's archive to its own model: datasets (imports, builds with
live progress, statistics, data card, samples), training on a dataset version (its loss on the
Training page's chart), and the model registry (compare, evaluate on the test briefs, promote,
roll back, archive).

Reading and writing follow the roles table (apps.accounts.roles): workspace admins alone.
Every change goes through a service; a refusal comes back as a form error or an error page.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from django.contrib import messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from apps.accounts.roles import CAN_GOVERN, CAN_TRAIN, roles_allowed
from apps.core.errors import DomainError, NotFound
from apps.core.models import Workspace
from apps.dashboard.views import current_workspace, dashboard_view, form_saved, render_page
from apps.datasets.forms import (
    BuildForm,
    CandidateForm,
    DatasetForm,
    DatasetTrainForm,
    ImportForm,
    PromoteForm,
    RetrainPolicyForm,
)
from apps.datasets.models import (
    Dataset,
    DatasetVersion,
    ImportState,
    VersionState,
)
from apps.datasets.retraining import retrain_policy_get, retrain_policy_set
from apps.datasets.selectors import dataset_versions, datasets
from apps.datasets.services import (
    dataset_create,
    dataset_import_source,
    dataset_version_cancel,
    dataset_version_create,
    dataset_version_train,
)
from apps.generation.models import TRAINING_ACTIVE, ModelProfile, ModelVersion
from apps.generation.registry import (
    COMPARE_MAX,
    model_profile_candidate_set,
    model_profile_rollback,
    model_profiles_promotable,
    model_version_archive,
    model_version_promote,
    model_versions,
    model_versions_compare,
)
from apps.generation.selectors import training_run_get, training_runs
from apps.generation.suite import suite_run_cancel, suite_run_create, suite_runs_latest
from apps.generation.training import training_run_cancel
from apps.workflow.model_comparison import model_version_comparison

DATASETS_READ = roles_allowed("datasets", "dataset", "view")
REGISTRY_READ = roles_allowed("generation", "modelversion", "view")
_M = TypeVar("_M", bound=Model)


def _one(rows: QuerySet[_M], pk: int, what: str) -> _M:
    """The row `pk` of the workspace's `rows`, or NotFound (another workspace's reads so too)."""
    row = rows.filter(pk=pk).first()
    if row is None:
        raise NotFound(f"{what} {pk} not found.")
    return row


def _dataset(workspace: Workspace, dataset_id: int) -> Dataset:
    return _one(datasets(workspace_id=workspace.pk), dataset_id, "Dataset")


def _version(workspace: Workspace, version_id: int) -> DatasetVersion:
    return _one(dataset_versions(workspace_id=workspace.pk), version_id, "Dataset version")


def _model_version(workspace: Workspace, version_id: int) -> ModelVersion:
    return _one(model_versions(workspace_id=workspace.pk), version_id, "Model version")


def _profile(workspace: Workspace, profile_id: int) -> ModelProfile:
    return _one(model_profiles_promotable(workspace_id=workspace.pk), profile_id,
                "Model profile")


@dashboard_view("GET", "POST")
def dataset_list(request: HttpRequest) -> HttpResponse:
    """The workspace's datasets; an admin creates one here."""
    workspace = current_workspace(request, CAN_GOVERN if request.method == "POST" else DATASETS_READ)
    form = DatasetForm(request.POST or None)
    dataset = form_saved(form, lambda fields: dataset_create(
        workspace=workspace, actor=request.user, **fields), field="name"
    ) if request.method == "POST" else None
    if dataset is not None:
        return redirect("dashboard:dataset", dataset_id=dataset.pk)
    rows = datasets(workspace_id=workspace.pk).order_by("name")
    return render_page(request, "datasets/dataset_list.html", workspace,
                       status=400 if form.errors else 200, form=form, datasets=rows)


def _dataset_page(request: HttpRequest, workspace: Workspace, dataset: Dataset, *,
                  import_form: ImportForm | None = None, build_form: BuildForm | None = None
                  ) -> HttpResponse:
    invalid = bool((import_form and import_form.errors) or (build_form and build_form.errors))
    return render_page(request, "datasets/dataset_detail.html", workspace,
                       status=400 if invalid else 200, dataset=dataset,
                       imports=list(dataset.imports.all()), versions=list(dataset.versions.all()),
                       import_form=import_form or ImportForm(workspace_id=workspace.pk),
                       build_form=build_form or BuildForm())


@dashboard_view("GET")
def dataset_detail(request: HttpRequest, dataset_id: int) -> HttpResponse:
    """A dataset's imports and versions, with the forms to add documents and build."""
    workspace = current_workspace(request, DATASETS_READ)
    return _dataset_page(request, workspace, _dataset(workspace, dataset_id))


@dashboard_view("POST")
def dataset_import(request: HttpRequest, dataset_id: int) -> HttpResponse:
    """Add documents from an upload, the published revisions, the feed entries or a target."""
    workspace = current_workspace(request, CAN_GOVERN)
    dataset = _dataset(workspace, dataset_id)
    form = ImportForm(request.POST, request.FILES, workspace_id=workspace.pk)
    item = form_saved(form, lambda fields: dataset_import_source(
        dataset=dataset, source=fields["source"], actor=request.user, upload=fields["file"],
        target_id=fields["target"].pk if fields["target"] else None))
    if item is None:
        return _dataset_page(request, workspace, dataset, import_form=form)
    messages.success(request, f"The posts of {item.label} are being fetched."
                     if item.state == ImportState.QUEUED else
                     f"Imported {item.documents} documents from {item.label}.")
    return redirect("dashboard:dataset", dataset_id=dataset.pk)


@dashboard_view("POST")
def dataset_build(request: HttpRequest, dataset_id: int) -> HttpResponse:
    """Build a new version with the options given; its page follows the build live."""
    workspace = current_workspace(request, CAN_GOVERN)
    dataset = _dataset(workspace, dataset_id)
    form = BuildForm(request.POST)
    version = form_saved(form, lambda fields: dataset_version_create(
        dataset=dataset, actor=request.user, options=fields["options"]))
    if version is None:
        return _dataset_page(request, workspace, dataset, build_form=form)
    return redirect("dashboard:dataset_version", version_id=version.pk)


def _version_page(request: HttpRequest, workspace: Workspace, version: DatasetVersion, *,
                  train_form: DatasetTrainForm | None = None) -> HttpResponse:
    stats = version.stats or {}
    histogram = stats.get("length_histogram", [])
    runs = list(training_runs(workspace_id=workspace.pk).filter(dataset_version_id=version.pk))
    return render_page(request, "datasets/dataset_version.html", workspace,
                       status=400 if train_form and train_form.errors else 200, version=version,
                       stats=stats, histogram=histogram,
                       histogram_peak=max((b["documents"] for b in histogram), default=0) or 1,
                       active=version.state in (VersionState.QUEUED, VersionState.RUNNING),
                       runs=runs, active_run_states=TRAINING_ACTIVE,
                       train_form=train_form or DatasetTrainForm(workspace_id=workspace.pk))


@dashboard_view("GET")
def dataset_version(request: HttpRequest, version_id: int) -> HttpResponse:
    """A version: its build's live progress, then its statistics, length histogram, data card
    and a sample of cleaned documents beside their originals; the runs trained on it."""
    workspace = current_workspace(request, DATASETS_READ)
    return _version_page(request, workspace, _version(workspace, version_id))


@dashboard_view("POST")
def dataset_version_cancel_view(request: HttpRequest, version_id: int) -> HttpResponse:
    workspace = current_workspace(request, CAN_GOVERN)
    version = dataset_version_cancel(version=_version(workspace, version_id), actor=request.user)
    messages.success(request, f"The build of version {version.number} is cancelled.")
    return redirect("dashboard:dataset_version", version_id=version.pk)


@dashboard_view("POST")
def dataset_version_train_view(request: HttpRequest, version_id: int) -> HttpResponse:
    """Start a run on the version; its loss is drawn live on the Training page's chart."""
    workspace = current_workspace(request, CAN_TRAIN)
    version = _version(workspace, version_id)
    form = DatasetTrainForm(request.POST, workspace_id=workspace.pk)
    run = form_saved(form, lambda fields: dataset_version_train(
        version=version, kind=fields["kind"], actor=request.user, parameters=fields["parameters"],
        base_model=fields["base_model"].strip(),
        base_version_id=fields["base_version"].pk if fields["base_version"] else None))
    if run is None:
        return _version_page(request, workspace, version, train_form=form)
    messages.success(request, f"Training run {run.pk} is queued.")
    return redirect(f"{reverse('dashboard:training')}?run={run.pk}")


@dashboard_view("POST")
def training_run_cancel_view(request: HttpRequest, run_id: int) -> HttpResponse:
    """Cancel a queued or running run; back to its dataset version, or to its chart."""
    workspace = current_workspace(request, CAN_TRAIN)
    run = training_run_cancel(run=training_run_get(workspace_id=workspace.pk, run_id=run_id),
                              actor=request.user)
    messages.success(request, f"Training run {run.pk} is cancelled.")
    if run.dataset_version_id is not None:
        return redirect("dashboard:dataset_version", version_id=run.dataset_version_id)
    return redirect(f"{reverse('dashboard:training')}?run={run.pk}")


def _compared(workspace: Workspace, request: HttpRequest) -> tuple[list[dict[str, Any]], str]:
    """The versions ticked for comparison, side by side, or why they cannot be."""
    ids = request.GET.getlist("compare")
    if not ids:
        return [], ""
    if not all(i.isdigit() and len(i) <= 19 for i in ids):
        return [], "Tick the versions to compare."
    try:
        return model_versions_compare(workspace_id=workspace.pk, ids=[int(i) for i in ids]), ""
    except DomainError as exc:
        return [], str(exc)


def _ab_test(request: HttpRequest, workspace: Workspace, profiles: list[ModelProfile]
             ) -> tuple[ModelProfile | None, list[dict[str, Any]]]:
    """The profile whose A/B test is shown (?ab=<id>, else the first testing a candidate) and
    its versions compared on what happened to their work."""
    testing = [p for p in profiles if p.candidate_version_id is not None]
    chosen = request.GET.get("ab", "")
    profile = next((p for p in testing if str(p.pk) == chosen), testing[0] if testing else None)
    if profile is None:
        return None, []
    return profile, model_version_comparison(workspace_id=workspace.pk, profile_id=profile.pk)


def _registry_page(request: HttpRequest, workspace: Workspace, *,
                   candidate_form: CandidateForm | None = None,
                   retrain_form: RetrainPolicyForm | None = None) -> HttpResponse:
    compared, compare_error = _compared(workspace, request)
    profiles = list(model_profiles_promotable(workspace_id=workspace.pk))
    ab_profile, ab_rows = _ab_test(request, workspace, profiles)
    policy = retrain_policy_get(workspace_id=workspace.pk)
    if retrain_form is None:
        initial = ({"enabled": policy.enabled, "approved_threshold": policy.approved_threshold,
                    "dataset": policy.dataset_id, "base_version": policy.base_version_id,
                    "profile": policy.profile_id, "candidate_share": policy.candidate_share,
                    "parameters": json.dumps(policy.training_parameters)
                    if policy.training_parameters else ""} if policy else None)
        retrain_form = RetrainPolicyForm(workspace_id=workspace.pk, initial=initial)
    invalid = bool(compare_error or (candidate_form and candidate_form.errors)
                   or retrain_form.errors)
    versions = list(model_versions(workspace_id=workspace.pk))
    suites = suite_runs_latest(workspace_id=workspace.pk)
    return render_page(request, "datasets/model_registry.html", workspace,
                       status=400 if invalid else 200, versions=versions,
                       version_rows=[(v, suites.get(v.pk)) for v in versions],
                       active_suite_states=TRAINING_ACTIVE, profiles=profiles,
                       promote_form=PromoteForm(workspace_id=workspace.pk), compared=compared,
                       compare_error=compare_error, compare_max=COMPARE_MAX,
                       ab_profile=ab_profile, ab_rows=ab_rows, candidate_form=candidate_form,
                       policy=policy, retrain_form=retrain_form)


@dashboard_view("GET")
def model_registry(request: HttpRequest) -> HttpResponse:
    """The workspace's model versions (ticked ones compared side by side), each with its
    latest evaluation suite run, promoted to a profile, archived; the profiles, rolled back,
    each with its A/B test (a candidate version on a share of its briefs, compared on gate,
    reviewers, edits and engagement); the retrain schedule."""
    return _registry_page(request, current_workspace(request, REGISTRY_READ))


def _registry_back(request: HttpRequest, message: str) -> HttpResponse:
    messages.success(request, message)
    return redirect("dashboard:models")


@dashboard_view("POST")
def model_version_promote_view(request: HttpRequest, version_id: int) -> HttpResponse:
    workspace = current_workspace(request, CAN_TRAIN)
    version = _model_version(workspace, version_id)
    form = PromoteForm(request.POST, workspace_id=workspace.pk)
    if not form.is_valid():
        raise DomainError("Choose a model profile of this workspace that runs a local model.")
    profile: ModelProfile = form.cleaned_data["profile"]
    model_version_promote(version=version, profile=profile, actor=request.user)
    return _registry_back(request, f"{profile.name} now runs version {version.number}.")


@dashboard_view("POST")
def model_version_evaluate_view(request: HttpRequest, version_id: int) -> HttpResponse:
    """Queue the evaluation suite on a version, as the API does; its row shows the run."""
    workspace = current_workspace(request, CAN_TRAIN)
    version = _model_version(workspace, version_id)
    suite_run_create(version=version, actor=request.user)
    return _registry_back(request, f"Version {version.number} is queued for the test briefs.")


@dashboard_view("POST")
def model_version_evaluate_cancel_view(request: HttpRequest, version_id: int) -> HttpResponse:
    workspace = current_workspace(request, CAN_TRAIN)
    version = _model_version(workspace, version_id)
    suite_run_cancel(version=version, actor=request.user)
    return _registry_back(request, f"The evaluation of version {version.number} is cancelled.")


@dashboard_view("POST")
def model_version_archive_view(request: HttpRequest, version_id: int) -> HttpResponse:
    workspace = current_workspace(request, CAN_TRAIN)
    version = model_version_archive(version=_model_version(workspace, version_id),
                                    actor=request.user)
    return _registry_back(request, f"Version {version.number} is archived.")


@dashboard_view("POST")
def model_profile_rollback_view(request: HttpRequest, profile_id: int) -> HttpResponse:
    workspace = current_workspace(request, CAN_TRAIN)
    profile = _profile(workspace, profile_id)
    profile = model_profile_rollback(profile=profile, actor=request.user)
    return _registry_back(request, f"{profile.name} runs {profile.model or 'the built-in model'} "
                                   "again.")


@dashboard_view("POST")
def model_profile_candidate_view(request: HttpRequest, profile_id: int) -> HttpResponse:
    """Start, change or end (no version) a profile's A/B test."""
    workspace = current_workspace(request, CAN_TRAIN)
    profile = _profile(workspace, profile_id)
    form = CandidateForm(request.POST, workspace_id=workspace.pk)
    if form_saved(form, lambda fields: model_profile_candidate_set(
            profile=profile, version=fields["version"], share=fields["share"],
            actor=request.user)) is None:
        return _registry_page(request, workspace, candidate_form=form)
    version: ModelVersion | None = form.cleaned_data["version"]
    return _registry_back(request, f"{profile.name} tries version {version.number} on "
                                   f"{form.cleaned_data['share']:.0%} of its briefs."
                          if version else f"{profile.name}'s A/B test has ended.")


@dashboard_view("POST")
def retrain_policy_view(request: HttpRequest) -> HttpResponse:
    """Set the workspace's retrain schedule."""
    workspace = current_workspace(request, CAN_TRAIN)
    form = RetrainPolicyForm(request.POST, workspace_id=workspace.pk)
    if form_saved(form, lambda data: retrain_policy_set(
            workspace=workspace, enabled=data["enabled"],
            approved_threshold=data["approved_threshold"], dataset=data["dataset"],
            profile=data["profile"], candidate_share=data["candidate_share"],
            base_version=data["base_version"], training_parameters=data["parameters"],
            actor=request.user)) is None:
        return _registry_page(request, workspace, retrain_form=form)
    return _registry_back(request, "The retrain schedule is saved.")
