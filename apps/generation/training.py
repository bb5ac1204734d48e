"""Training runs: train a model from scratch or fine-tune the built-in one on the
workspace's published texts, as jobs on the generation queue; their parameters checked
once here, their loss curve kept while they train. Each run writes a new model folder of
its own under the workspace's models (MODELS_DIR/workspaces/<id>/run-<run id>/), offered
as a model profile; the shared built-in model is only read."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import fields
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from apps.core.errors import DomainError, IllegalTransition
from apps.core.models import Workspace
from apps.core.services import Actor, audit_record, event_emit, transition
from apps.generation.accounting import budget_reached, run_bounds, seconds_held
from apps.generation.models import (
    TRAINING_ACTIVE,
    TRAINING_MACHINE,
    ModelProfile,
    ModelVersion,
    TrainingKind,
    TrainingRun,
    TrainingState,
)
from apps.generation.registry import model_profile_candidate_set
from apps.generation.services import model_roots, quota_check_budget
from apps.generation.suite import suite_run_after_training
from workers.datasets.store import jsonl_read
from workers.generation.builtin.finetune import FineTunePlan
from workers.generation.builtin.plan import TrainingPlan
from workers.generation.engine import BUILTIN, GenerationError, InvalidRequest
from workers.generation.locations import ModelPathRefused
from workers.generation.progress import LossPoint

logger = logging.getLogger(__name__)


def _training_transition(run: TrainingRun, *, to: str, actor: Actor = None, actor_label: str = "",
                         payload: dict[str, Any] | None = None, **fields: Any) -> TrainingRun:
    return transition(run, machine=TRAINING_MACHINE, to=to, workspace_id=run.workspace_id,
                      event_type=f"training.{to}",
                      payload={"training_run_id": run.pk, "kind": run.kind, **(payload or {})},
                      actor=actor, actor_label=actor_label, **fields)


def _figure(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:g}"


def _number(low: float, high: float, *, whole: bool = True, nullable: bool = False
            ) -> Callable[[str, object], str]:
    def check(name: str, value: object) -> str:
        if value is None and nullable:
            return ""
        kinds = int if whole else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
            return (f"'{name}' must be {'null or ' if nullable else ''}a "
                    f"{'whole ' if whole else ''}number from {_figure(low)} to {_figure(high)}.")
        return ""

    return check


def _device(name: str, value: object) -> str:
    if isinstance(value, str) and re.fullmatch(r"auto|cpu|mps|cuda(:[0-9]{1,2})?", value):
        return ""
    return f"'{name}' must be auto, cpu, mps, cuda or cuda:N."


# What the API and the dashboard accept in a training run's parameters: name -> why a value is
# refused, or "". The names a kind takes are its engine plan's fields that have a check here
# (`training_parameter_names`); the worker checks the names again for runs made otherwise.
TRAINING_PARAMETERS: dict[str, Callable[[str, object], str]] = {
    "steps": _number(1, 1_000_000),
    "learning_rate": _number(1e-7, 1.0, whole=False),
    "batch_size": _number(1, 1024),
    "max_seconds": _number(1, 7 * 86_400, whole=False, nullable=True),
    "seed": _number(0, 2**32 - 1),
    "threads": _number(1, 256, nullable=True),
    "device": _device,
    "vocab_size": _number(260, 200_000),  # the 256 bytes and the special tokens, at least
    "n_layer": _number(1, 64),
    "n_head": _number(1, 64),
    "n_embd": _number(8, 8192),
    "block_size": _number(8, 8192),
    "warmup_steps": _number(0, 1_000_000),
    "max_documents": _number(1, 10**9, nullable=True),
    "eval_blocks": _number(1, 10**6, nullable=True),
    "min_engagement": _number(0, 10**9),  # fine-tuning data: see `published_texts`
    "lora_rank": _number(1, 256, nullable=True),  # fine-tuning: LoRA adapters instead of all
}


def training_parameter_names(kind: str) -> list[str]:
    """The parameters a run of `kind` takes: its engine plan's fields (the corpus is fixed;
    training from scratch also takes its step count, fine-tuning the least engagement of a
    published text it learns from)."""
    if kind == TrainingKind.FINETUNE:
        names = [*(f.name for f in fields(FineTunePlan)), "min_engagement"]
    else:
        names = ["steps", *(f.name for f in fields(TrainingPlan))]
    return [name for name in names if name in TRAINING_PARAMETERS]


def training_parameters_errors(*, kind: str, parameters: dict[str, Any]) -> list[str]:
    """Why `parameters` cannot train a run of `kind` (a known kind), one message each; [] if
    they can."""
    names = training_parameter_names(kind)
    errors = [f"Unknown parameter '{name}' for {kind}; known: {', '.join(names)}."
              for name in parameters if name not in names]
    errors += [message for name in names if name in parameters
               and (message := TRAINING_PARAMETERS[name](name, parameters[name]))]
    if kind == TrainingKind.TRAIN and not errors:
        shape = TrainingPlan()
        n_embd = parameters.get("n_embd", shape.n_embd)
        n_head = parameters.get("n_head", shape.n_head)
        if n_embd % n_head:  # each attention head takes an equal slice of the width
            errors.append(f"'n_embd' ({n_embd}) must be a multiple of 'n_head' ({n_head}).")
    return errors


@transaction.atomic
def training_run_create(*, workspace_id: int, kind: str, parameters: dict[str, Any] | None = None,
                        actor: Actor = None, data_path: str = "",
                        dataset_version_id: int | None = None,
                        base_version: ModelVersion | None = None,
                        base_model: str = "", candidate_for: ModelProfile | None = None,
                        candidate_share: float = 0.0) -> TrainingRun:
    """A queued training run, sent to the generation queue after commit (by task name).

    Fine-tuning starts from the built-in model, from `base_version` (a version of the
    same workspace, not archived), or from `base_model`: any local Hugging Face causal LM
    folder the workspace may read (its own models or the shared models folder); both kinds
    write a new folder, `run-<id>`, in the workspace's own models, never the shared
    built-in model. With `data_path` (a dataset version's folder in DATASETS_DIR) the run
    trains on its train split and measures the held-out perplexity on its test split,
    instead of the published texts or the corpus. With `candidate_for` (a profile of the
    workspace), the version it writes becomes that profile's A/B candidate at
    `candidate_share` (above 0, at most 1), never its model (a scheduled retrain).
    """
    if kind not in TrainingKind.values:
        raise DomainError(f"Unknown training kind {kind!r}; use train or finetune.")
    errors = training_parameters_errors(kind=kind, parameters=parameters or {})
    if base_version is not None and (base_version.workspace_id != workspace_id
                                     or base_version.archived_at is not None):
        errors.append("The base version is not an active version of this workspace.")
    if (base_version is not None or base_model) and kind != TrainingKind.FINETUNE:
        errors.append("Only fine-tuning starts from a base version or model.")
    if base_version is not None and base_model:
        errors.append("Start from a base version or a base model, not both.")
    if candidate_for is not None and (candidate_for.workspace_id != workspace_id
                                      or not 0.0 < candidate_share <= 1.0):
        errors.append("A candidate run needs a profile of this workspace and a share above 0 "
                      "and at most 1.")
    if base_model:
        try:
            model_roots(workspace_id=workspace_id).model_folder(base_model)
        except ModelPathRefused as exc:
            errors.append(str(exc))
    if errors:
        raise DomainError(" ".join(errors))
    quota_check_budget(workspace_id=workspace_id)
    base = (base_version.folder if base_version is not None
            else (base_model or BUILTIN) if kind == TrainingKind.FINETUNE else "")
    run = TrainingRun.objects.create(
        workspace_id=workspace_id, kind=kind, parameters=parameters or {}, base_model=base,
        base_version=base_version, data_path=data_path, dataset_version_id=dataset_version_id,
        candidate_for=candidate_for, candidate_share=candidate_share if candidate_for else 0.0,
    )
    # A version per run: a profile on an earlier version keeps it, and a run requeued after
    # its worker died rewrites only its own folder.
    run.output_model = f"run-{run.pk}"
    run.save(update_fields=["output_model"])
    audit_record(workspace_id=workspace_id, action="training.created", subject=run, actor=actor)
    event_emit(workspace_id=workspace_id, type="training.queued", subject=run,
               payload={"training_run_id": run.pk, "kind": kind})
    transaction.on_commit(lambda: current_app.send_task("generation.train", args=[run.pk]))
    return run


@transaction.atomic
def training_run_claim(*, run_id: int, worker_id: str) -> TrainingRun | None:
    """queued → running for one worker; None for a redelivered or ended run."""
    run = TrainingRun.objects.filter(pk=run_id, state=TrainingState.QUEUED).first()
    if run is None:
        return None
    try:
        # A run requeued after its worker died keeps its curve: it goes on from its last
        # checkpoint, and the points it reports again replace the stored ones (see
        # `training_run_record_losses`).
        return _training_transition(run, to=TrainingState.RUNNING, actor_label=worker_id,
                                    worker_id=worker_id, started_at=timezone.now(),
                                    **run_bounds(run))
    except IllegalTransition:
        return None


# A running run's heartbeat is its stored loss (every 10 steps, see `running.loss_sender`); the
# held-out measurement before training has none, so a run is taken for dead only after
# this many heartbeat timeouts (10 minutes by default).
TRAINING_STALE_FACTOR = 5


def training_runs_requeue_stale(*, older_than: timedelta | None = None) -> list[int]:
    """running → queued for runs whose worker stopped reporting (killed, lost), each sent
    to the generation queue again after commit; the next worker resumes from the run's
    last checkpoint. Returns the requeued ids."""
    if older_than is None:
        older_than = timedelta(seconds=settings.JOB_HEARTBEAT_TIMEOUT_S * TRAINING_STALE_FACTOR)
    requeued = []
    stale = TrainingRun.objects.filter(state=TrainingState.RUNNING,
                                       updated_at__lt=timezone.now() - older_than)
    for run in stale:
        with transaction.atomic():
            try:
                _training_transition(run, to=TrainingState.QUEUED, actor_label="sweeper",
                                     payload={"reason": "worker stopped reporting"})
            except IllegalTransition:
                continue
            transaction.on_commit(partial(current_app.send_task, "generation.train",
                                          args=[run.pk]))
        requeued.append(run.pk)
    return requeued


HOUSE_MODEL_PROFILES: dict[str, str] = {TrainingKind.FINETUNE: "Fine-tuned house model",
                                         TrainingKind.TRAIN: "Trained house model"}


# The engines report the loss every LOSS_EVERY (10) steps: 2,000 points hold 20,000 steps,
# ten times the shipped model's run, in about 30 kB of JSON.
LOSS_CURVE_MAX_POINTS = 2_000


@transaction.atomic
def training_run_record_losses(*, run_id: int, worker_id: str,
                               points: Sequence[LossPoint]) -> bool:
    """Append the points to a running run's curve (stored as [step, loss] pairs), so a page
    opened mid-run draws what came before. Past LOSS_CURVE_MAX_POINTS every other point is
    dropped (the latest kept): the curve keeps its whole span at half the density. False,
    storing nothing, when the run is not running on this worker."""
    run = (TrainingRun.objects.select_for_update()
           .filter(pk=run_id, state=TrainingState.RUNNING, worker_id=worker_id)
           .first())
    if run is None:
        _stop_if_ended(run_id)
        return False
    new = [[point.step, point.loss] for point in points]
    # Points at or after the first new step were reported by an attempt that died after
    # its last checkpoint: the resumed attempt's points replace them.
    kept = [p for p in run.loss_curve if not new or p[0] < new[0][0]]
    curve = [*kept, *new]
    steps_done = (curve[-1][0] if curve else 0) - (kept[-1][0] if kept else 0)
    while len(curve) > LOSS_CURVE_MAX_POINTS:
        curve = curve[::-2][::-1]
    run.loss_curve = curve
    run.tokens_trained += max(0, steps_done) * run.tokens_per_step
    run.device_seconds = seconds_held(run)
    run.save(update_fields=["loss_curve", "updated_at", "tokens_trained", "device_seconds"])
    if reason := budget_reached(run):  # its next report stops the worker (_stop_if_ended)
        _training_transition(run, to=TrainingState.FAILED, actor_label=worker_id, error=reason,
                             finished_at=timezone.now(), payload={"error": reason})
    return True


class TrainingStopped(GenerationError):
    """The run was cancelled or stopped for the budget: its worker stops at this report."""


def _stop_if_ended(run_id: int) -> None:
    """Raise TrainingStopped to the worker reporting a run that was cancelled or failed
    meanwhile; a run requeued to another worker is left to the sweeper's rules."""
    state, error = TrainingRun.objects.filter(pk=run_id).values_list(
        "state", "error").first() or ("", "")
    if state == TrainingState.CANCELLED:
        raise TrainingStopped("Cancelled.")
    if state == TrainingState.FAILED:
        raise TrainingStopped(error)


def training_corpus(run: TrainingRun) -> tuple[list[str], list[str]] | None:
    """(train texts, test texts) of the run's dataset version, or None for a run without
    one. The folder must lie in the run's own workspace's datasets: a path into another
    workspace's data is refused like a missing one."""
    if not run.data_path:
        return None
    root = (Path(settings.DATASETS_DIR) / "workspaces" / str(run.workspace_id)).resolve()
    folder = (Path(settings.DATASETS_DIR) / run.data_path).resolve()
    if not folder.is_relative_to(root) or not (folder / "train.jsonl").is_file():
        raise InvalidRequest("The run's dataset version is not readable in its workspace.")
    # A train document weighted by engagement is seen `weight` times; the test split is
    # measured as it is.
    return ([row["text"] for row in jsonl_read(folder / "train.jsonl")
             for _ in range(row.get("weight", 1))],
            [row["text"] for row in jsonl_read(folder / "test.jsonl")])


@transaction.atomic
def training_run_succeed(*, run_id: int, worker_id: str, revision: str, steps: int,
                         documents: int, final_loss: float,
                         heldout_perplexity_before: float | None,
                         heldout_perplexity_after: float, train_seconds: float | None = None,
                         tokens_seen: int | None = None, card: str = "") -> TrainingRun:
    """running → succeeded with the figures (the loss curve is already stored, see
    `training_run_record_losses`), recorded as the workspace's next model version, whose
    evaluation suite is queued (apps.generation.suite; recorded failed, with the reason, when
    the month's budget is spent); the workspace's house-model profile of the run's kind
    moves to the new folder (created the first time), so editors can pick it for a content
    type. A candidate run's version (a scheduled retrain's) moves no profile: it becomes its
    profile's A/B candidate."""
    run = TrainingRun.objects.get(pk=run_id)
    if run.state in (TrainingState.CANCELLED, TrainingState.FAILED):
        return run  # cancelled, or stopped for the budget, after its last report: no version
    _training_transition(
        run, to=TrainingState.SUCCEEDED, actor_label=worker_id, revision=revision, steps=steps,
        documents=documents, final_loss=final_loss,
        heldout_perplexity_before=heldout_perplexity_before,
        heldout_perplexity_after=heldout_perplexity_after, finished_at=timezone.now(),
        device_seconds=seconds_held(run),
        # the engine's count: the steps the model holds, a resumed run's repeated ones once
        tokens_trained=run.tokens_trained if tokens_seen is None else tokens_seen,
        payload={"heldout_perplexity_before": heldout_perplexity_before,
                 "heldout_perplexity_after": heldout_perplexity_after},
    )
    # Runs of one workspace finishing together take their numbers in turn.
    Workspace.objects.select_for_update().filter(pk=run.workspace_id).first()
    number = (ModelVersion.objects.filter(workspace_id=run.workspace_id)
              .aggregate(n=Max("number"))["n"] or 0) + 1
    metrics = {"heldout_perplexity_before": heldout_perplexity_before,
               "heldout_perplexity_after": heldout_perplexity_after, "final_loss": final_loss,
               "steps": steps, "documents": documents, "train_seconds": train_seconds,
               "tokens_seen": tokens_seen,
               "tokens_per_second": round(tokens_seen / train_seconds) if tokens_seen
               and train_seconds else None}
    version = ModelVersion.objects.create(
        workspace_id=run.workspace_id, number=number, training_run=run, folder=run.output_model,
        revision=revision, kind=run.kind, base=run.base_model or "",
        dataset_version_id=run.dataset_version_id, metrics=metrics, card=card)
    suite_run_after_training(version=version)  # its scores on the test briefs join the metrics
    # A candidate share is only ever set with a profile: a run whose profile was deleted
    # meanwhile is still a candidate run, and promotes nothing.
    if run.candidate_share > 0:
        _candidate_take(run, version)
        return run
    ModelProfile.objects.update_or_create(
        workspace_id=run.workspace_id, name=HOUSE_MODEL_PROFILES[run.kind],
        defaults={"backend": "builtin", "model": run.output_model})
    return run


def _candidate_take(run: TrainingRun, version: ModelVersion) -> None:
    """The new version becomes the run's profile's candidate; when the profile is gone or
    now refuses one (it calls a model server), the version stays in the registry unused."""
    profile = run.candidate_for
    if profile is None:
        logger.warning("training run %s: its candidate profile was deleted", run.pk)
        return
    try:
        model_profile_candidate_set(profile=profile, version=version,
                                    share=run.candidate_share, actor_label="retrain")
    except DomainError as exc:
        logger.warning("training run %s: version %s is no candidate: %s", run.pk,
                       version.number, exc)


@transaction.atomic
def training_run_fail(*, run_id: int, error: str, actor_label: str = "") -> TrainingRun | None:
    run = TrainingRun.objects.get(pk=run_id)
    if run.state not in TRAINING_ACTIVE:
        return None
    return _training_transition(run, to=TrainingState.FAILED, actor_label=actor_label,
                                error=error[:5000], finished_at=timezone.now(),
                                device_seconds=_seconds_at_end(run),
                                payload={"error": error[:500]})


def _seconds_at_end(run: TrainingRun) -> float:
    return seconds_held(run) if run.state == TrainingState.RUNNING else run.device_seconds


@transaction.atomic
def training_run_cancel(*, run: TrainingRun, actor: Actor = None) -> TrainingRun:
    """queued or running → cancelled; IllegalTransition (409) once it ended. A running run's
    worker stops at its next loss report (every 10 steps) and records nothing more: no model
    version. The device time held until now stays counted."""
    current = TrainingRun.objects.select_for_update().get(pk=run.pk)
    return _training_transition(current, to=TrainingState.CANCELLED, actor=actor,
                                finished_at=timezone.now(),
                                device_seconds=_seconds_at_end(current))
