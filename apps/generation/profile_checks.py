"""Test generations of a model profile (`ProfileCheck`): asked for by a workspace admin,
claimed and run by a worker of the profile's queue, recorded here.

A check is bounded: a fixed prompt, one variant and at most CHECK_TOKENS new tokens. It is
refused, as a job is, once the workspace's monthly budget is spent or when the profile's
queue is not one the deployment declares; its tokens count in that budget.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from celery import current_app
from django.db import transaction
from django.utils import timezone

from apps.accounts.roles import CAN_GOVERN
from apps.accounts.selectors import actor_require
from apps.core.errors import DomainError
from apps.core.realtime import progress_send
from apps.core.services import Actor, audit_record
from apps.generation.models import CheckState, ModelProfile, ProfileCheck
from apps.generation.services import draft_text_clean, generation_queues, quota_check_budget
from workers.generation.types import GeneratedText

CHECK_TASK = "generation.check_profile"
CHECK_PROMPT = "Write two sentences about starting a compost heap in a small garden."
CHECK_TOKENS = 32
CHECK_TIMEOUT_S = 120  # or the profile's own timeout when shorter


def profile_check_create(*, profile: ModelProfile, actor: Actor = None) -> ProfileCheck:
    """A queued check of `profile`, sent to the profile's queue after commit.

    Raises DomainError (BudgetExceeded) before it writes when the workspace's monthly budget
    is spent or the profile's queue is not declared (no worker would take it).
    """
    actor_require(actor, CAN_GOVERN, profile.workspace_id)
    quota_check_budget(workspace_id=profile.workspace_id)
    if profile.queue not in generation_queues():
        raise DomainError(f"Model profile {profile.name!r} runs on queue {profile.queue!r}, "
                          f"which this deployment does not declare: choose one of "
                          f"{', '.join(generation_queues())}.")
    with transaction.atomic():
        check = ProfileCheck.objects.create(
            workspace_id=profile.workspace_id, model_profile=profile,
            requested_by=actor if actor is not None and actor.is_authenticated else None)
        audit_record(workspace_id=profile.workspace_id, action="model_profile.checked",
                     subject=profile, actor=actor, after={"check": check.pk})
        transaction.on_commit(lambda: current_app.send_task(
            CHECK_TASK, args=[check.pk], queue=profile.queue))
    return check


def profile_check_latest(*, profile: ModelProfile) -> ProfileCheck | None:
    return ProfileCheck.objects.filter(model_profile=profile).order_by("-id").first()


def profile_check_claim(*, check_id: int, worker_id: str) -> ProfileCheck | None:
    """queued → running for exactly one worker; None when redelivered or ended."""
    claimed = ProfileCheck.objects.filter(pk=check_id, state=CheckState.QUEUED).update(
        state=CheckState.RUNNING, worker_id=worker_id, started_at=timezone.now())
    if not claimed:
        return None
    return ProfileCheck.objects.select_related("model_profile").get(pk=check_id)


def profile_check_record(*, check: ProfileCheck, text: GeneratedText,
                         latency_s: float) -> ProfileCheck:
    """running → succeeded with the text and what it used."""
    check.state, check.finished_at, check.latency_s = CheckState.SUCCEEDED, timezone.now(), latency_s
    check.text = draft_text_clean(text.text)
    check.model_name = text.model_name
    check.prompt_tokens, check.completion_tokens = text.prompt_tokens, text.completion_tokens
    check.device_seconds = text.device_s
    check.save(update_fields=["state", "finished_at", "latency_s", "text", "model_name",
                              "prompt_tokens", "completion_tokens", "device_seconds",
                              "updated_at"])
    return check


def profile_check_send(check: ProfileCheck, type: str, payload: dict[str, Any]) -> None:
    """A check's live event (`profile_check.progress`, `profile_check.finished`), to the
    workspace's admins' sockets only: a profile's settings, its test text included, are theirs."""
    progress_send(workspace_id=check.workspace_id, type=type, subject=check,
                  payload={"check_id": check.pk, **payload}, admins_only=True)


def profile_check_fail(*, check: ProfileCheck, error: str) -> ProfileCheck:
    """running → failed, with the reason the admin reads."""
    check.state, check.finished_at, check.error = CheckState.FAILED, timezone.now(), error[:5000]
    check.save(update_fields=["state", "finished_at", "error", "updated_at"])
    return check


# A check lives at most its timeout on a worker; past twice that, its message was lost or
# its worker stopped.
CHECK_EXPIRES_AFTER = timedelta(seconds=2 * CHECK_TIMEOUT_S)


def profile_checks_expire(*, now: datetime | None = None) -> int:
    """Fail the queued or running checks no worker finished in time (the reconciler's), so no
    check waits for ever; the admin runs it again. How many were failed."""
    cutoff = (now or timezone.now()) - CHECK_EXPIRES_AFTER
    return ProfileCheck.objects.filter(
        state__in=(CheckState.QUEUED, CheckState.RUNNING), created_at__lt=cutoff).update(
        state=CheckState.FAILED, finished_at=timezone.now(),
        error="No worker finished this check in time: its message was lost or its worker "
              "stopped. Run it again.")
