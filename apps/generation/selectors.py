"""Reads of generation jobs: the API's job view and the websocket's authorization and snapshot."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from apps.accounts.roles import CAN_VIEW
from apps.accounts.selectors import workspace_require
from apps.core.errors import NotFound, PermissionDenied
from apps.core.models import Workspace
from apps.generation.models import GenerationJob, JobState

ACTIVE_STATES = (JobState.QUEUED, JobState.RUNNING, JobState.EVALUATING)


def job_get(*, workspace: Workspace, job_id: int) -> GenerationJob:
    """The job with its brief and drafts (with scores), if it is in `workspace`."""
    job = (
        GenerationJob.objects.filter(workspace=workspace, pk=job_id)
        .select_related("brief")
        .prefetch_related("drafts__evaluation")
        .first()
    )
    if job is None:
        raise NotFound(f"Job {job_id} not found.")
    return job


def job_workspace_for(*, user: AbstractBaseUser | AnonymousUser, job_id: int) -> Workspace | None:
    """The job's workspace if `user` may follow the job there (any member); else None.

    A missing job and another workspace's job look the same, so ids leak nothing.
    """
    workspace_id = (
        GenerationJob.objects.filter(pk=job_id).values_list("workspace_id", flat=True).first()
    )
    if workspace_id is None:
        return None
    try:
        return workspace_require(user, CAN_VIEW, workspace_id)
    except PermissionDenied:
        return None


def jobs_active(*, workspace_id: int, limit: int = 100) -> list[GenerationJob]:
    """The workspace's unfinished jobs, oldest first."""
    return list(
        GenerationJob.objects.filter(workspace_id=workspace_id, state__in=ACTIVE_STATES)
        .order_by("id")[:limit]
    )
