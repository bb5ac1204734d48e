"""The generation job lifecycle: create, claim, heartbeat, record drafts, fail, cancel.

Also the workspace's generation quota: a monthly token and device-time budget
checked when a job is created, and a cap on jobs generating at once checked
when one is claimed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from aigc_platform.queues import Queue
from apps.briefs.models import ContentBrief
from apps.briefs.prompting import prompt_render, template_version_current
from apps.briefs.services import brief_fields_for_prompt
from apps.core.changes import changes_check
from apps.core.crypto import secret_encrypt
from apps.core.egress import egress_url_error
from apps.core.errors import DomainError, IllegalTransition
from apps.core.services import Actor, audit_record, event_emit, transition
from apps.generation.models import (
    JOB_MACHINE,
    Backend,
    Draft,
    GenerationJob,
    GenerationQuota,
    JobState,
    ModelProfile,
    ProfileCheck,
    SuiteRun,
    TrainingRun,
)
from apps.generation.routing import job_model_version_id
from workers.generation.locations import ModelPathRefused, ModelRoots
from workers.generation.types import LOCAL_BACKENDS, OPENAI, GeneratedText

# A job in these states still has work ahead: it can be cancelled or fail.
JOB_ACTIVE = (JobState.QUEUED, JobState.RUNNING, JobState.EVALUATING)


def job_queue(job: GenerationJob) -> str:
    """The queue the job's messages go to: its model profile's (a pool of workers serving that
    model), else the shared generation queue."""
    profile = job.model_profile
    return profile.queue if profile is not None else Queue.GENERATION.value


def jobs_on_queue(queue: str) -> Q:
    """The jobs whose messages go to `queue` (the inverse of job_queue)."""
    on_queue = Q(model_profile__queue=queue)
    if queue == Queue.GENERATION.value:
        on_queue |= Q(model_profile__isnull=True)
    return on_queue


def _job_transition(job: GenerationJob, *, to: str, actor_label: str = "", actor: Actor = None,
                    payload: dict[str, Any] | None = None, **fields: object) -> GenerationJob:
    # A queued job's event names its queue: the relay sends the job's message there.
    routing = {"queue": job_queue(job)} if to == JobState.QUEUED else {}
    return transition(
        job, machine=JOB_MACHINE, to=to, workspace_id=job.workspace_id, event_type=f"job.{to}",
        payload={"job_id": job.pk, "brief_id": job.brief_id, **routing, **(payload or {})},
        actor=actor, actor_label=actor_label, **fields,
    )


def generation_queues() -> list[str]:
    """The queues this deployment runs generation workers for: `generation` and the
    operator's AIGC_GENERATION_QUEUES (a GPU pool per large model, say)."""
    return [Queue.GENERATION.value, *settings.GENERATION_QUEUES]


def model_roots(*, workspace_id: int) -> ModelRoots:
    """The folders the workspace's local models are read from and its training writes to."""
    return ModelRoots.of(models_dir=settings.MODELS_DIR, workspace_id=workspace_id,
                         shared_dir=settings.SHARED_MODELS_DIR)


def model_key_env_error(name: str) -> str:
    """Why a profile may not take its API key from the worker's variable `name`, or ""."""
    if not name or name in settings.MODEL_KEY_ENVS:
        return ""
    allowed = ", ".join(settings.MODEL_KEY_ENVS) or "none"
    return (f"The worker's environment variable {name!r} is not one the operator allows for "
            f"model API keys (AIGC_MODEL_KEY_ENVS: {allowed}); store the key in the profile "
            "instead.")


def model_profile_errors(*, workspace_id: int, backend: str, model: str, queue: str,
                         base_url: str, api_key_env: str) -> dict[str, str]:
    """Why a profile with these values cannot run in this deployment, by field; {} if it can.
    The API, the dashboard and the admin all save through these rules; the worker applies
    the key, path and egress rules again to rows stored before them."""
    errors = {}
    if backend not in Backend.values:
        errors["backend"] = f"Unknown model backend {backend!r}."
    queues = generation_queues()
    if queue not in queues:
        errors["queue"] = (f"{queue!r} is not a generation queue of this deployment; use "
                           f"{', '.join(queues)} (the operator declares more with "
                           "AIGC_GENERATION_QUEUES).")
    if key_error := model_key_env_error(api_key_env):
        errors["api_key_env"] = key_error
    if backend == OPENAI and base_url and (url_error := egress_url_error(base_url)):
        errors["base_url"] = url_error
    if backend in LOCAL_BACKENDS:
        try:
            model_roots(workspace_id=workspace_id).model_folder(model)
        except ModelPathRefused as exc:
            errors["model"] = str(exc)
    return errors


def model_profile_for(brief: ContentBrief) -> ModelProfile | None:
    return brief.content_type.model_profile or (
        ModelProfile.objects.filter(workspace_id=brief.workspace_id).order_by("id").first()
    )


class BudgetExceeded(DomainError):
    status_code = 429


class ConcurrencyLimitReached(DomainError):
    """The workspace already generates as many jobs as its quota allows; try again later."""

    status_code = 429


@dataclass(frozen=True)
class Usage:
    jobs: int
    prompt_tokens: int
    completion_tokens: int
    device_seconds: float

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def month_start(now: datetime | None = None) -> datetime:
    now = now or timezone.now()
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def usage_since(*, workspace_id: int, since: datetime) -> Usage:
    """What the workspace's jobs, its model profiles' test generations and its versions'
    evaluation suite runs created since `since` have used (three queries)."""
    usage = {"prompt_tokens": Coalesce(Sum("prompt_tokens"), 0),
             "completion_tokens": Coalesce(Sum("completion_tokens"), 0),
             "device_seconds": Coalesce(Sum("device_seconds"), 0.0)}
    jobs = GenerationJob.objects.filter(workspace_id=workspace_id, created_at__gte=since
                                        ).aggregate(jobs=Count("id"), **usage)
    checks = ProfileCheck.objects.filter(workspace_id=workspace_id, created_at__gte=since
                                         ).aggregate(**usage)
    suites = SuiteRun.objects.filter(version__workspace_id=workspace_id, created_at__gte=since
                                     ).aggregate(**usage)
    return Usage(jobs=jobs.pop("jobs"),
                 **{k: v + checks[k] + suites[k] for k, v in jobs.items()})


@dataclass(frozen=True)
class MonthlyBudget:
    """A workspace's monthly caps (None: unlimited), what this calendar month (UTC) used, and
    what is left of each cap."""

    month_start: datetime
    resets_at: datetime
    monthly_tokens: int | None
    monthly_device_seconds: float | None
    used: Usage

    @property
    def tokens_left(self) -> int | None:
        return None if self.monthly_tokens is None else max(0, self.monthly_tokens - self.used.tokens)

    @property
    def device_seconds_left(self) -> float | None:
        if self.monthly_device_seconds is None:
            return None
        return max(0.0, self.monthly_device_seconds - self.used.device_seconds)


def _monthly_budget(quota: GenerationQuota | None, *, workspace_id: int) -> MonthlyBudget:
    start = month_start()
    return MonthlyBudget(
        month_start=start, resets_at=(start + timedelta(days=32)).replace(day=1),
        monthly_tokens=quota.monthly_tokens if quota else None,
        monthly_device_seconds=quota.monthly_device_seconds if quota else None,
        used=usage_since(workspace_id=workspace_id, since=start))


def budget_monthly(*, workspace_id: int) -> MonthlyBudget:
    """The workspace's monthly caps against what its generation used (four queries);
    `budget_left` takes training off too."""
    quota = GenerationQuota.objects.filter(workspace_id=workspace_id).first()
    return _monthly_budget(quota, workspace_id=workspace_id)


@dataclass(frozen=True)
class TrainingUsage:
    runs: int
    tokens: int
    device_seconds: float


def training_usage_since(*, workspace_id: int, since: datetime) -> TrainingUsage:
    """What the workspace's training runs started since `since` used (one query)."""
    totals = TrainingRun.objects.filter(workspace_id=workspace_id, started_at__gte=since
                                        ).aggregate(runs=Count("id"),
                                                    tokens=Coalesce(Sum("tokens_trained"), 0),
                                                    device_seconds=Coalesce(
                                                        Sum("device_seconds"), 0.0))
    return TrainingUsage(**totals)


@dataclass(frozen=True)
class BudgetLeft:
    """What is left of the month's budget after generation and training (None: no cap)."""

    tokens: int | None
    device_seconds: float | None
    resets_at: datetime | None = None

    @property
    def spent(self) -> bool:
        return self.tokens == 0 or self.device_seconds == 0


UNLIMITED = BudgetLeft(tokens=None, device_seconds=None)


def budget_left(*, workspace_id: int) -> BudgetLeft:
    """The month's budget left to the workspace by its jobs, profile checks, evaluation
    suite runs and training runs together; no usage query when it has no caps (five
    queries otherwise)."""
    quota = GenerationQuota.objects.filter(workspace_id=workspace_id).first()
    if quota is None or (quota.monthly_tokens is None and quota.monthly_device_seconds is None):
        return UNLIMITED
    generation = _monthly_budget(quota, workspace_id=workspace_id)
    training = training_usage_since(workspace_id=workspace_id, since=generation.month_start)
    tokens = seconds = None
    if generation.tokens_left is not None:
        tokens = max(0, generation.tokens_left - training.tokens)
    if generation.device_seconds_left is not None:
        seconds = max(0.0, generation.device_seconds_left - training.device_seconds)
    return BudgetLeft(tokens=tokens, device_seconds=seconds, resets_at=generation.resets_at)


def quota_check_budget(*, workspace_id: int) -> None:
    """Refuse new work, a job, a profile check, an evaluation suite run or a training run
    (HTTP 429), once the workspace used its month's budget (calendar month, UTC) by
    generation and training together."""
    left = budget_left(workspace_id=workspace_id)
    if left.spent:
        spent = "tokens" if left.tokens == 0 else "device seconds"
        raise BudgetExceeded(
            f"This workspace used its monthly budget of {spent} (generation and training "
            f"together). It resets on {left.resets_at:%Y-%m-%d} (UTC); an admin can raise "
            "the cap.")


def job_create(*, brief: ContentBrief, actor: Actor = None) -> GenerationJob:
    """A queued job for `brief`; `job.queued` sends it to a generation worker after commit.

    Raises BudgetExceeded when the workspace used its monthly budget, DomainError when its
    model profile's queue is not one the deployment declares, both before it writes. The
    job keeps the template version and the prompt rendered from it.
    """
    quota_check_budget(workspace_id=brief.workspace_id)
    profile = model_profile_for(brief)
    if profile is not None and profile.queue not in generation_queues():
        # A profile saved before the rule, or a queue the operator stopped declaring: no
        # worker would ever take the job.
        raise DomainError(f"Model profile {profile.name!r} runs on queue {profile.queue!r}, "
                          f"which this deployment does not declare; an admin must choose one "
                          f"of {', '.join(generation_queues())}.")
    version = template_version_current(brief.content_type)
    prompt = prompt_render(version.template, brief_fields_for_prompt(brief))
    # No savepoint inside a caller's transaction (two round trips): the refusals above are
    # raised before it writes.
    with transaction.atomic(savepoint=False):
        job = GenerationJob.objects.create(
            workspace_id=brief.workspace_id,
            brief=brief,
            model_profile=profile,
            variants=brief.variants,
            prompt_template_version=version,
            prompt=prompt,
            model_version_id=job_model_version_id(profile=profile, brief_id=brief.pk),
        )
        audit_record(workspace_id=brief.workspace_id, action="job.created", subject=job,
                     actor=actor)
        event_emit(
            workspace_id=brief.workspace_id,
            type="job.queued",
            subject=job,
            payload={"job_id": job.pk, "brief_id": brief.pk, "state": job.state,
                     "queue": job_queue(job)},
        )
    return job


def job_claim(*, job_id: int, worker_id: str) -> GenerationJob | None:
    """queued → running for exactly one worker; None when someone else has it or it ended.

    Safe to call for a redelivered message: only a queued job can be claimed.
    Raises ConcurrencyLimitReached while the workspace runs its quota's maximum.
    """
    job = GenerationJob.objects.select_related("brief", "model_profile").filter(pk=job_id).first()
    return None if job is None else _job_claim_held(job, worker_id)


@transaction.atomic
def _job_claim_held(job: GenerationJob, worker_id: str) -> GenerationJob | None:
    """`job_claim` of a job in hand (its brief and profile loaded): the state it holds may
    be stale, as the move is a conditional UPDATE from the state the row holds."""
    if job.state != JobState.QUEUED:
        return None
    _job_slot_take(job.workspace_id)
    now = timezone.now()
    try:
        _job_transition(
            job, to=JobState.RUNNING, actor_label=worker_id, worker_id=worker_id,
            attempts=F("attempts") + 1, started_at=now, heartbeat_at=now,
        )
    except IllegalTransition:
        return None
    # Only the counter is read back: a whole refresh would drop the loaded brief and profile.
    job.refresh_from_db(fields=["attempts"])
    return job


def _job_slot_take(workspace_id: int) -> None:
    """Raise ConcurrencyLimitReached while the workspace runs its quota's maximum. The quota
    row is the workspace's lock (PostgreSQL), so two claims cannot both take the last slot;
    SQLite serialises writers anyway."""
    quota = GenerationQuota.objects.select_for_update().filter(workspace_id=workspace_id).first()
    if quota is not None and quota.max_running_jobs is not None:
        running = GenerationJob.objects.filter(workspace_id=workspace_id,
                                               state=JobState.RUNNING).count()
        if running >= quota.max_running_jobs:
            raise ConcurrencyLimitReached(
                f"Workspace runs {running} of at most {quota.max_running_jobs} jobs.")


URGENT_CANDIDATES = 10  # queued jobs tried per message before it waits like its own job


def job_claim_most_urgent(*, job_id: int, worker_id: str) -> GenerationJob | None:
    """Claim, for the message of job `job_id`, the most urgent job queued on the same queue.

    Every queued job sent one message, so a queue's messages are interchangeable:
    the message claims a queued job of a strictly higher-priority brief (oldest
    first) before its own, and its own job's turn passes to the message of the
    job it took. A message whose job is no longer queued (taken that way,
    cancelled, requeued) claims the most urgent queued job, so every queued job
    keeps a message. This orders work by brief priority on any broker: Redis and
    RabbitMQ message priorities differ in range and direction, RabbitMQ's need
    queues redeclared, and neither reorders messages a worker already prefetched.
    Raises ConcurrencyLimitReached when every candidate's workspace is at its cap
    (the message waits and comes back); None when no job is queued there.
    """
    job = GenerationJob.objects.select_related("brief", "model_profile").filter(pk=job_id).first()
    if job is None:
        return None
    waiting = GenerationJob.objects.filter(jobs_on_queue(job_queue(job)), state=JobState.QUEUED)
    own_turn = job.state == JobState.QUEUED
    if own_turn:
        waiting = waiting.filter(brief__priority__gt=job.brief.priority)
    candidates = list(waiting.order_by("-brief__priority", "id")
                      .values_list("pk", flat=True)[:URGENT_CANDIDATES])
    if own_turn:
        candidates.append(job.pk)
    busy: ConcurrencyLimitReached | None = None
    for candidate in candidates:
        try:
            claimed = (_job_claim_held(job, worker_id) if candidate == job.pk
                       else job_claim(job_id=candidate, worker_id=worker_id))
        except ConcurrencyLimitReached as exc:
            busy = exc
            continue
        if claimed is not None:
            return claimed
    if busy is not None:
        raise busy
    return None


def job_heartbeat(*, job_id: int, worker_id: str) -> bool:
    """Record that the worker still works on the job; False if the job was taken from it."""
    return bool(
        GenerationJob.objects.filter(pk=job_id, state=JobState.RUNNING, worker_id=worker_id)
        .update(heartbeat_at=timezone.now())
    )


def job_is_cancelled(*, job_id: int) -> bool:
    return GenerationJob.objects.filter(pk=job_id, state=JobState.CANCELLED).exists()


@dataclass(frozen=True)
class JobTimings:
    latency_s: float  # claim to texts written
    retries: int = 0  # transient failures retried outside the texts (e.g. unreadable files)


# A byte-level model can emit any byte: PostgreSQL text refuses NUL, and no
# other control character but tab and newlines belongs in a draft. Live
# progress sends the same cleaned text, so what streamed is what is stored.
_CONTROL_CHARACTERS = dict.fromkeys(c for c in range(32) if c not in (9, 10, 13))


def draft_text_clean(text: str) -> str:
    return text.translate(_CONTROL_CHARACTERS)


@transaction.atomic
def job_record_drafts(
    *, job_id: int, worker_id: str, texts: Sequence[GeneratedText], timings: JobTimings | None = None
) -> GenerationJob | None:
    """Store the variants once (unique per job and variant) and hand the job to evaluation.

    running → evaluating, with the job's token counts, time to first token,
    device seconds and retries. Each draft keeps the prompt and template
    version that made it. Returns None when the job is no longer this
    worker's (cancelled, or requeued after a missed heartbeat): its texts are dropped.
    """
    job = GenerationJob.objects.filter(pk=job_id, state=JobState.RUNNING, worker_id=worker_id).first()
    if job is None:
        return None
    # One insert for every variant; a variant stored by an earlier delivery of the same job
    # (unique per job and variant) is kept as it is.
    Draft.objects.bulk_create([
        Draft(job=job, brief_id=job.brief_id, variant=item.variant,
              text=draft_text_clean(item.text), model_name=item.model_name,
              model_revision=item.model_revision, seed=item.seed, parameters=item.parameters,
              prompt_tokens=item.prompt_tokens, completion_tokens=item.completion_tokens,
              prompt=job.prompt, prompt_template_version_id=job.prompt_template_version_id)
        for item in texts], ignore_conflicts=True)
    return _job_transition(
        job, to=JobState.EVALUATING, actor_label=worker_id, generated_at=timezone.now(),
        prompt_tokens=sum(t.prompt_tokens for t in texts),
        completion_tokens=sum(t.completion_tokens for t in texts),
        first_token_s=min((t.first_token_s for t in texts if t.completion_tokens), default=None),
        device_seconds=sum(t.device_s for t in texts),
        latency_s=timings.latency_s if timings else None,
        retries=sum(t.retries for t in texts) + (timings.retries if timings else 0),
        payload={"variants": len(texts)},
    )


@transaction.atomic
def job_fail(*, job_id: int, error: str, actor_label: str = "") -> GenerationJob | None:
    """Any active state → failed, with the reason the editor will read (`job.failed`)."""
    job = GenerationJob.objects.get(pk=job_id)
    if job.state not in JOB_ACTIVE:
        return None
    return _job_transition(job, to=JobState.FAILED, actor_label=actor_label, error=error[:5000],
                           finished_at=timezone.now(), payload={"error": error[:500]})


@transaction.atomic
def job_cancel_active(*, brief: ContentBrief, actor: Actor = None) -> int:
    """Cancel the brief's unfinished jobs; a running worker sees it at its next check."""
    cancelled = 0
    for job in GenerationJob.objects.filter(brief=brief, state__in=JOB_ACTIVE):
        job_cancel(job=job, actor=actor)
        cancelled += 1
    return cancelled


@transaction.atomic
def job_cancel(*, job: GenerationJob, actor: Actor = None) -> GenerationJob:
    """Cancel one unfinished job: a queued job is never claimed afterwards, and a running
    worker sees the state within a second and stops writing."""
    return _job_transition(job, to=JobState.CANCELLED, actor=actor, finished_at=timezone.now())


@transaction.atomic
def job_succeed(*, job: GenerationJob, actor_label: str = "",
                decision: dict[str, object] | None = None) -> GenerationJob:
    """evaluating → succeeded; `job.succeeded` carries the evaluation's decision (the
    quality gate's, when the brief has one) for the workflow to act on."""
    return _job_transition(job, to=JobState.SUCCEEDED, actor_label=actor_label,
                           finished_at=timezone.now(), payload=decision or {})


def jobs_requeue_stale(*, older_than: timedelta) -> list[int]:
    """running → queued for jobs whose worker stopped sending heartbeats.

    The `job.queued` event sends them to a worker again; drafts are unique per
    (job, variant), so a job that did finish half its work never doubles it.
    """
    cutoff = timezone.now() - older_than
    requeued = []
    stale = GenerationJob.objects.filter(state=JobState.RUNNING, heartbeat_at__lt=cutoff)
    for job in stale:
        try:
            _job_transition(job, to=JobState.QUEUED, actor_label="sweeper",
                            payload={"reason": "worker heartbeat stopped"})
        except IllegalTransition:
            continue
        requeued.append(job.pk)
    return requeued


@transaction.atomic
def model_profile_set_api_key(*, profile: ModelProfile, api_key: str, actor: Actor = None) -> None:
    """Store the profile's API key encrypted (an empty key removes it); audited, never echoed."""
    profile.api_key_encrypted = secret_encrypt(api_key)
    profile.save(update_fields=["api_key_encrypted", "updated_at"])
    audit_record(workspace_id=profile.workspace_id, action="model_profile.api_key_set",
                 subject=profile, actor=actor)


MODEL_PROFILE_FIELDS = ("name", "backend", "model", "parameters", "queue", "device", "base_url",
                        "api_key_env", "timeout_s")


def _model_profile_save(profile: ModelProfile, *, action: str, api_key: str | None,
                        actor: Actor, before: dict[str, Any] | None = None) -> ModelProfile:
    errors = model_profile_errors(
        workspace_id=profile.workspace_id, backend=profile.backend, model=profile.model,
        queue=profile.queue, base_url=profile.base_url, api_key_env=profile.api_key_env)
    if errors:
        raise DomainError(" ".join(errors.values()))
    if api_key is not None:  # None keeps the stored key; "" removes it
        profile.api_key_encrypted = secret_encrypt(api_key)
    profile.save()
    after = {name: getattr(profile, name) for name in MODEL_PROFILE_FIELDS}
    # The key itself is never audited: only whether one is stored.
    after["has_api_key"] = bool(profile.api_key_encrypted)
    audit_record(workspace_id=profile.workspace_id, action=action, subject=profile, actor=actor,
                 before=before, after=after)
    return profile


@transaction.atomic
def model_profile_create(*, workspace_id: int, name: str, backend: str = Backend.BUILTIN,
                         model: str = "", parameters: dict[str, Any] | None = None,
                         queue: str = "generation", device: str = "auto", base_url: str = "",
                         api_key_env: str = "", timeout_s: int = 600,
                         api_key: str | None = None, actor: Actor = None) -> ModelProfile:
    """A new profile; the API key, when given, is stored encrypted."""
    profile = ModelProfile(workspace_id=workspace_id, name=name, backend=backend, model=model,
                           parameters=parameters or {}, queue=queue, device=device,
                           base_url=base_url, api_key_env=api_key_env, timeout_s=timeout_s)
    return _model_profile_save(profile, action="model_profile.created", api_key=api_key,
                               actor=actor)


@transaction.atomic
def model_profile_update(*, profile: ModelProfile, api_key: str | None = None,
                         actor: Actor = None, **changes: object) -> ModelProfile:
    """Change some of MODEL_PROFILE_FIELDS (and the key); jobs read the profile when they run."""
    changes_check(changes, MODEL_PROFILE_FIELDS, rows="Model profiles")
    before = {name: getattr(profile, name) for name in MODEL_PROFILE_FIELDS}
    before["has_api_key"] = bool(profile.api_key_encrypted)
    for name, value in changes.items():
        setattr(profile, name, value)
    return _model_profile_save(profile, action="model_profile.updated", api_key=api_key,
                               actor=actor, before=before)
