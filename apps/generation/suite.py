"""The evaluation suite's runs on model versions (`SuiteRun`): queued when a training run
writes a version, or by an admin for an existing one; claimed and run by a generation worker
(apps.workflow.model_suite writes the test briefs with the version, scores and gates them);
recorded here, the figures in the version's `metrics["suite"]`.

A run is bounded (a few test briefs, one short draft each) and reports after each brief and
every few seconds while it writes: one no worker finishes, its message lost or its worker
dead, is failed by the reconciler with the reason, and an admin runs it again.

A run counts in the workspace's monthly budget as a job does: it is refused once the budget
is spent, and what each draft used (tokens, device seconds) is added to it as the draft is
written, so a run that fails or is cancelled half-way still counts what it wrote.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from apps.core.errors import DomainError, IllegalTransition
from apps.core.realtime import progress_send
from apps.core.services import Actor, audit_record
from apps.generation.models import TRAINING_ACTIVE, ModelVersion, SuiteRun, TrainingState
from apps.generation.services import BudgetExceeded, quota_check_budget
from workers.generation.types import GeneratedText

SUITE_TASK = "generation.evaluate_version"
# A queued run waits behind the queue's jobs and runs: an hour without a worker taking it
# means its message was lost (or the queue stopped).
SUITE_QUEUED_MAX = timedelta(hours=1)


@transaction.atomic
def suite_run_create(*, version: ModelVersion, actor: Actor = None) -> SuiteRun:
    """A queued run of the suite on `version`, sent to the generation queue after commit;
    refused (BudgetExceeded, HTTP 429) once the workspace's monthly budget is spent, and
    while one is queued or running for it."""
    quota_check_budget(workspace_id=version.workspace_id)
    ModelVersion.objects.select_for_update().filter(pk=version.pk).first()  # one at a time
    if SuiteRun.objects.filter(version=version, state__in=TRAINING_ACTIVE).exists():
        raise DomainError(f"Version {version.number} is being evaluated already; cancel that "
                          "run first.")
    run = SuiteRun.objects.create(version=version)
    if actor is not None:
        audit_record(workspace_id=version.workspace_id, action="model_version.evaluation_queued",
                     subject=version, actor=actor, after={"suite_run_id": run.pk})
    transaction.on_commit(lambda: current_app.send_task(SUITE_TASK, args=[run.pk]))
    return run


def suite_run_after_training(*, version: ModelVersion) -> SuiteRun:
    """The run a newly written version queues; with the month's budget spent, a failed run
    that says so (the version is kept; an admin evaluates it once the budget allows)."""
    try:
        return suite_run_create(version=version)
    except BudgetExceeded as exc:
        return SuiteRun.objects.create(version=version, state=TrainingState.FAILED,
                                       error=str(exc), finished_at=timezone.now())


def suite_run_latest(*, version: ModelVersion) -> SuiteRun | None:
    return SuiteRun.objects.filter(version=version).first()


def suite_runs_latest(*, workspace_id: int) -> dict[int, SuiteRun]:
    """The latest run of each of the workspace's versions, by version id (one query)."""
    latest = (SuiteRun.objects.filter(version__workspace_id=workspace_id)
              .values("version_id").annotate(last=Max("id")).values("last"))
    return {run.version_id: run for run in SuiteRun.objects.filter(pk__in=latest)}


def suite_run_claim(*, run_id: int, worker_id: str) -> SuiteRun | None:
    """queued → running for exactly one worker; None when redelivered or ended."""
    if not SuiteRun.objects.filter(pk=run_id, state=TrainingState.QUEUED).update(
            state=TrainingState.RUNNING, worker_id=worker_id, updated_at=timezone.now()):
        return None
    return SuiteRun.objects.select_related("version").get(pk=run_id)


def suite_run_spent(*, run_id: int, worker_id: str, written: Sequence[GeneratedText]) -> None:
    """Add what a brief's draft used to the run's usage (the workspace's monthly budget), as
    soon as it is written: whatever becomes of the run, those tokens were spent."""
    SuiteRun.objects.filter(pk=run_id, worker_id=worker_id).update(
        prompt_tokens=F("prompt_tokens") + sum(t.prompt_tokens for t in written),
        completion_tokens=F("completion_tokens") + sum(t.completion_tokens for t in written),
        device_seconds=F("device_seconds") + sum(t.device_s for t in written))


def suite_run_beat(*, run_id: int, worker_id: str) -> bool:
    """Move a running run's heartbeat; False once it is no longer this worker's (cancelled,
    or failed by the reconciler): the worker stops."""
    return bool(SuiteRun.objects.filter(pk=run_id, state=TrainingState.RUNNING,
                                        worker_id=worker_id).update(updated_at=timezone.now()))


@transaction.atomic
def suite_run_record(*, run_id: int, worker_id: str, results: list[dict[str, Any]],
                     summary: dict[str, Any]) -> SuiteRun | None:
    """running → succeeded with each brief's result; `summary` (the means and the gate pass
    rate) becomes the version's `metrics["suite"]`, replacing an earlier run's. None, and
    nothing recorded, once the run is no longer this worker's."""
    run = (SuiteRun.objects.select_for_update()
           .filter(pk=run_id, state=TrainingState.RUNNING, worker_id=worker_id).first())
    if run is None:
        return None
    version = ModelVersion.objects.select_for_update().get(pk=run.version_id)
    version.metrics = {**version.metrics, "suite": {**summary, "run_id": run.pk}}
    version.save(update_fields=["metrics"])
    run.state, run.results, run.finished_at = TrainingState.SUCCEEDED, results, timezone.now()
    run.save(update_fields=["state", "results", "finished_at", "updated_at"])
    return run


def suite_run_fail(*, run_id: int, error: str) -> bool:
    """queued or running → failed with the reason the admin reads; False once it ended."""
    return bool(SuiteRun.objects.filter(pk=run_id, state__in=TRAINING_ACTIVE).update(
        state=TrainingState.FAILED, error=error[:5000], finished_at=timezone.now(),
        updated_at=timezone.now()))


@transaction.atomic
def suite_run_cancel(*, version: ModelVersion, actor: Actor = None) -> SuiteRun:
    """The version's queued or running suite run → cancelled; IllegalTransition (409) when
    it has none. A running one's worker stops within seconds and records nothing."""
    run = (SuiteRun.objects.select_for_update()
           .filter(version=version, state__in=TRAINING_ACTIVE).first())
    if run is None:
        raise IllegalTransition(f"Version {version.number} has no evaluation queued or "
                                "running.")
    run.state, run.finished_at = TrainingState.CANCELLED, timezone.now()
    run.save(update_fields=["state", "finished_at", "updated_at"])
    audit_record(workspace_id=version.workspace_id, action="model_version.evaluation_cancelled",
                 subject=version, actor=actor, after={"suite_run_id": run.pk})
    transaction.on_commit(lambda: suite_progress_send(run, state=TrainingState.CANCELLED))
    return run


def suite_progress_send(run: SuiteRun, *, state: str, done: int = 0, briefs: int = 0) -> None:
    """Where a run stands, live only, for the Models page: its state and the test briefs
    written so far (to the admins' sockets: the registry is theirs)."""
    progress_send(workspace_id=run.version.workspace_id, type="suite.progress", subject=run,
                  admins_only=True,
                  payload={"suite_run_id": run.pk, "model_version_id": run.version_id,
                           "state": state, "briefs_done": done, "briefs": briefs})


def suite_stale_after() -> timedelta:
    """A running run silent this long lost its worker: it beats every few seconds while it
    writes, and after each brief."""
    return timedelta(seconds=2 * settings.JOB_HEARTBEAT_TIMEOUT_S)


def suite_runs_expire(*, now: datetime | None = None) -> int:
    """Fail the runs no worker will finish (the reconciler's): running ones silent for
    `suite_stale_after`, queued ones no worker took within SUITE_QUEUED_MAX. How many."""
    now = now or timezone.now()
    failed = SuiteRun.objects.filter(state=TrainingState.RUNNING,
                                     updated_at__lt=now - suite_stale_after()).update(
        state=TrainingState.FAILED, finished_at=now,
        error="Its worker stopped reporting (killed or lost). Run it again.")
    return failed + SuiteRun.objects.filter(state=TrainingState.QUEUED,
                                            updated_at__lt=now - SUITE_QUEUED_MAX).update(
        state=TrainingState.FAILED, finished_at=now,
        error="No worker took it within an hour: its message was lost or the generation "
              "queue is stopped. Run it again.")
