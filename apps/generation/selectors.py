"""Reads of generation jobs: the API's job view, the websocket's authorization and snapshot,
usage per model and per workspace; and training runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Avg, Count, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from apps.accounts.models import Membership
from apps.accounts.roles import CAN_VIEW
from apps.accounts.selectors import membership_require
from apps.core.errors import NotFound, PermissionDenied
from apps.core.models import Workspace
from apps.generation.models import Draft, GenerationJob, JobState, TrainingRun

ACTIVE_STATES = (JobState.QUEUED, JobState.RUNNING, JobState.EVALUATING)


def jobs_with_accounting(*, workspace: Workspace) -> QuerySet[GenerationJob]:
    """The workspace's jobs with what accounts for them in the same query: the template
    version, and `model_name` / `model_revision` as the first draft records them (None
    until drafts exist)."""
    first_draft = Draft.objects.filter(job=OuterRef("pk")).order_by("variant")
    return (GenerationJob.objects.filter(workspace=workspace)
            .select_related("prompt_template_version")
            .annotate(model_name=Subquery(first_draft.values("model_name")[:1]),
                      model_revision=Subquery(first_draft.values("model_revision")[:1])))


def job_get(*, workspace: Workspace, job_id: int) -> GenerationJob:
    """The job with its accounting, brief and drafts (with scores), if it is in `workspace`."""
    job = (
        jobs_with_accounting(workspace=workspace).filter(pk=job_id)
        .select_related("brief")
        .prefetch_related("drafts__evaluation")
        .first()
    )
    if job is None:
        raise NotFound(f"Job {job_id} not found.")
    return job


def job_membership_for(*, user: User | AnonymousUser, job_id: int) -> Membership | None:
    """The user's membership of the job's workspace (its workspace joined) if `user` may
    follow the job there (any member); else None.

    A missing job and another workspace's job look the same, so ids leak nothing.
    """
    workspace_id = (
        GenerationJob.objects.filter(pk=job_id).values_list("workspace_id", flat=True).first()
    )
    if workspace_id is None:
        return None
    try:
        return membership_require(user, CAN_VIEW, workspace_id)
    except PermissionDenied:
        return None


def jobs_active(*, workspace_id: int, limit: int = 100) -> list[GenerationJob]:
    """The workspace's unfinished jobs, oldest first."""
    return list(
        GenerationJob.objects.filter(workspace_id=workspace_id, state__in=ACTIVE_STATES)
        .order_by("id")[:limit]
    )


@dataclass(frozen=True)
class UsageRow:
    """Totals of finished-generating jobs for one model (or workspace) over a period."""

    key: str
    jobs: int
    prompt_tokens: int
    completion_tokens: int
    device_seconds: float
    mean_latency_s: float | None
    mean_first_token_s: float | None


def _usage(rows: QuerySet[GenerationJob], key: str) -> list[UsageRow]:
    grouped = rows.exclude(generated_at=None).values(key).annotate(
        jobs=Count("id"), prompt=Sum("prompt_tokens"), completion=Sum("completion_tokens"),
        device=Sum("device_seconds"), latency=Avg("latency_s"), first=Avg("first_token_s"),
    ).order_by(key)
    return [UsageRow(key=str(r[key]), jobs=r["jobs"], prompt_tokens=r["prompt"],
                     completion_tokens=r["completion"], device_seconds=r["device"],
                     mean_latency_s=r["latency"], mean_first_token_s=r["first"])
            for r in grouped]


def usage_by_model(*, workspace_id: int, since: datetime) -> list[UsageRow]:
    """The workspace's generation since `since`, per model name (one query)."""
    return _usage(GenerationJob.objects.filter(workspace_id=workspace_id, created_at__gte=since)
                  .annotate(model=Coalesce("model_profile__model", Value("builtin"))), "model")


def usage_by_workspace(*, since: datetime) -> list[UsageRow]:
    """Every workspace's generation since `since`, keyed by workspace slug (one query)."""
    return _usage(GenerationJob.objects.filter(created_at__gte=since), "workspace__slug")


def training_runs(*, workspace_id: int) -> QuerySet[TrainingRun]:
    """The workspace's training runs, newest first, without their loss curves (up to 2,000
    points each: a list has no use for them)."""
    return TrainingRun.objects.filter(workspace_id=workspace_id).defer("loss_curve").order_by("-id")


def training_run_get(*, workspace_id: int, run_id: int) -> TrainingRun:
    """One run of the workspace, with its loss curve; NotFound for another workspace's."""
    run = TrainingRun.objects.filter(workspace_id=workspace_id, pk=run_id).first()
    if run is None:
        raise NotFound(f"Training run {run_id} not found.")
    return run
