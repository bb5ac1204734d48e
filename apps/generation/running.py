"""What a generation worker does with a job or a training run it was sent: claim it, run the
engine, stream its progress live, and record the outcome through the services.

Idempotent by construction: `job_claim_most_urgent` and `training_run_claim` let one
delivery run the work, drafts are unique per (job, variant), and a job taken away from this
worker (cancelled, or requeued after a missed heartbeat) stops writing within a second.

Local models are served through the process's one batcher: run the worker with a thread
pool (`--pool threads --concurrency 8`, prefetch multiplier 1) and the jobs its threads hold
share forward passes; with the solo pool each job is simply a batch of its own variants. The
continuous batcher (default) lets a job join the running batch at its next step;
AIGC_GENERATION_BATCHING=static brings back micro-batches that run to their end.

Only the generation worker imports this module; the engines it calls load torch lazily.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

from django.conf import settings

from apps.core.crypto import secret_decrypt
from apps.core.egress import egress_policy
from apps.core.realtime import progress_send
from apps.generation.accounting import budget_step
from apps.generation.models import (
    GenerationJob,
    ModelProfile,
    ProfileCheck,
    TrainingKind,
    TrainingRun,
)
from apps.generation.profile_checks import (
    CHECK_PROMPT,
    CHECK_TIMEOUT_S,
    CHECK_TOKENS,
    profile_check_claim,
    profile_check_fail,
    profile_check_record,
    profile_check_send,
)
from apps.generation.services import (
    ConcurrencyLimitReached,
    JobTimings,
    draft_text_clean,
    job_claim_most_urgent,
    job_fail,
    job_heartbeat,
    job_is_cancelled,
    job_record_drafts,
    model_key_env_error,
    model_roots,
)
from apps.generation.training import (
    training_corpus,
    training_parameters_errors,
    training_run_claim,
    training_run_fail,
    training_run_record_losses,
    training_run_succeed,
)
from workers.generation.batching import BatchCollector
from workers.generation.builtin.corpus import CorpusSplit
from workers.generation.builtin.finetune import FineTunePlan, finetune_model
from workers.generation.builtin.plan import TrainingPlan
from workers.generation.builtin.training import (
    DEFAULT_STEPS,
    OnLoss,
    train_builtin_model,
)
from workers.generation.continuous import ContinuousBatcher
from workers.generation.engine import (
    BUILTIN,
    BatchItem,
    GenerationError,
    InvalidRequest,
    OnText,
    ShouldStop,
    generate_batch,
)
from workers.generation.openai_chat import generate_openai
from workers.generation.progress import LossPoint, ProgressThrottle, TextProgress
from workers.generation.requests import request_for_job
from workers.generation.types import LOCAL_BACKENDS, OPENAI, GeneratedText, GenerationRequest

# The workspace's published texts for fine-tuning (apps.publishing.selectors.published_texts).
PublishedTexts = Callable[..., list[str]]

logger = logging.getLogger(__name__)

CANCEL_CHECK_EVERY_S = 0.5  # a cancelled job stops writing within a second
TRANSIENT_ATTEMPTS = 3  # an unreadable model file or a hiccup of shared storage, then give up
DEFAULT_TIMEOUT_S = 600  # a job without a model profile
BATCH_WINDOW_S = 0.05  # static: prefetched messages arrive within milliseconds of each other
BUSY_RETRY_S = 5  # a workspace at its concurrency limit: look again after 5-10 s
BUSY_MAX_RETRIES = 720  # an hour of waiting for a slot, then the job fails

_collector: ContinuousBatcher | BatchCollector | None = None
_collector_lock = threading.Lock()


def local_collector() -> ContinuousBatcher | BatchCollector:
    """The process's one batcher: every task thread's local-model requests meet here."""
    global _collector
    with _collector_lock:
        if _collector is None and settings.GENERATION_BATCHING == "static":
            _collector = BatchCollector(
                lambda items: generate_batch(
                    items, models_dir=settings.MODELS_DIR,
                    batch_invariant=settings.GENERATION_BATCH_INVARIANT),
                max_rows=settings.GENERATION_BATCH_ROWS, window_s=BATCH_WINDOW_S)
        elif _collector is None:
            _collector = ContinuousBatcher(models_dir=lambda: settings.MODELS_DIR,
                                           max_rows=settings.GENERATION_BATCH_ROWS,
                                           batch_invariant=settings.GENERATION_BATCH_INVARIANT)
        return _collector


class Watch:
    """The engine's `should_stop` for one piece of work: beats its heartbeat every
    `beat_every` s and stops once `beat` says the work is no longer this worker's; between
    beats, every CANCEL_CHECK_EVERY_S, asks `cancelled` when given; stops after `timeout_s`."""

    def __init__(self, *, beat: Callable[[], bool], timeout_s: float, beat_every: float,
                 cancelled: Callable[[], bool] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._beat, self._cancelled, self._clock = beat, cancelled, clock
        self._beat_every = beat_every
        self.started = self._last_beat = self._last_check = clock()
        self.timeout_s = timeout_s
        self.stopped = self.timed_out = False

    def should_stop(self) -> bool:
        now = self._clock()
        if self.stopped:
            return True
        if now - self.started > self.timeout_s:
            self.stopped = self.timed_out = True
            return True
        if now - self._last_beat >= self._beat_every:
            self._last_beat = self._last_check = now
            self.stopped = not self._beat()
        elif self._cancelled is not None and now - self._last_check >= CANCEL_CHECK_EVERY_S:
            self._last_check = now
            self.stopped = self._cancelled()
        return self.stopped


def job_watch(job_id: int, worker_id: str, timeout_s: float = DEFAULT_TIMEOUT_S,
              clock: Callable[[], float] = time.monotonic) -> Watch:
    """A generation job's watch: heartbeats the job and notices when it is no longer ours."""
    return Watch(beat=lambda: job_heartbeat(job_id=job_id, worker_id=worker_id),
                 cancelled=lambda: job_is_cancelled(job_id=job_id), timeout_s=timeout_s,
                 # Several beats fit in the sweeper's timeout, so one slow step never looks
                 # like a death.
                 beat_every=min(5.0, settings.JOB_HEARTBEAT_TIMEOUT_S / 4), clock=clock)


def text_stream(send: Callable[[int, dict[str, Any]], None], max_new_tokens: int
                ) -> tuple[OnText, Callable[[], None]]:
    """Streams the variants' texts, throttled, to `send(variant, payload)`, the payload
    giving the text and its `tokens` of `max_new_tokens` (what a page shows as progress);
    returns (on_text, flush), flush sending each variant's last text when writing ends."""
    throttle: ProgressThrottle[TextProgress] = ProgressThrottle(
        lambda variant, p: send(variant, {"text": draft_text_clean(p.text), "tokens": p.tokens,
                                          "max_new_tokens": max_new_tokens}),
        settings.PROGRESS_MAX_PER_SECOND)

    def on_text(variant: int, text: str, tokens: int) -> None:
        throttle.offer(variant, TextProgress(text=text, tokens=tokens))

    return on_text, throttle.flush


def text_sender(job: GenerationJob, max_new_tokens: int) -> tuple[OnText, Callable[[], None]]:
    """The job's texts as its live `job.progress` events (see `text_stream`)."""
    return text_stream(lambda variant, payload: progress_send(
        workspace_id=job.workspace_id, type="job.progress", subject=job, payload={
            "job_id": job.pk, "brief_id": job.brief_id, "variant": variant, **payload}),
        max_new_tokens)


def api_key_for(profile: ModelProfile) -> str:
    """The worker's environment variable named by the profile, when the operator allows that
    name (checked again here for profiles saved before the rule), else its encrypted key."""
    if profile.api_key_env:
        refusal = model_key_env_error(profile.api_key_env)
        if refusal:
            raise InvalidRequest(f"Model profile {profile.name!r}: {refusal}")
        key = os.environ.get(profile.api_key_env, "")
        if not key:
            raise GenerationError(f"The worker has no environment variable "
                                  f"{profile.api_key_env} for model profile {profile.name!r}.")
        return key
    return secret_decrypt(profile.api_key_encrypted)


def local_model(profile: ModelProfile, model: str = "") -> str:
    """The folder the profile's local model (or `model`, another of its workspace's, such as
    an A/B candidate) loads from, inside the folders its workspace may read (checked again
    here for profiles saved before the rule); `builtin` for the built-in model, which the
    engine finds in MODELS_DIR itself."""
    roots = model_roots(workspace_id=profile.workspace_id)
    folder = roots.model_folder(model or profile.model)
    return BUILTIN if folder == roots.builtin_dir.resolve() else str(folder)


def profile_request(profile: ModelProfile | None, *, request_id: int, prompt: str,
                    variants: int, target_words: int, language_tag: str, model: str = "",
                    parameters: dict[str, Any] | None = None) -> GenerationRequest:
    """The engine's request for `prompt` written by `profile`'s model (or `model`, another
    of its workspace's), with the profile's parameters unless `parameters` replace them;
    the built-in default model without a profile."""
    model = model or (profile.model if profile else "")
    if profile and profile.backend in LOCAL_BACKENDS and model:
        model = local_model(profile, model)
    return request_for_job(
        job_id=request_id, prompt=prompt, variants=variants,
        target_words=target_words, language_tag=language_tag,
        backend=profile.backend if profile else None,
        model=model,
        parameters=parameters if parameters is not None else (
            profile.parameters if profile else {}),
        device=profile.device if profile else "auto",
        default_model=settings.GENERATION_MODEL,
        base_url=profile.base_url if profile else "",
        api_key=api_key_for(profile) if profile and profile.backend == OPENAI else "",
        egress=egress_policy(),
    )


def job_request(job: GenerationJob) -> GenerationRequest:
    # The version the A/B draw recorded on the job, else the profile's model.
    version = job.model_version
    return profile_request(job.model_profile, request_id=job.pk, prompt=job.prompt,
                           variants=job.variants, target_words=job.brief.target_length,
                           language_tag=job.brief.language,
                           model=version.folder if version is not None else "")


def write_texts(request: GenerationRequest, on_text: OnText,
                should_stop: ShouldStop) -> list[GeneratedText]:
    if request.backend == OPENAI:
        return generate_openai(request, on_text, should_stop)
    return local_collector().submit(BatchItem(request, on_text, should_stop))


def _generate_with_retries(request: GenerationRequest, on_text: OnText,
                           should_stop: ShouldStop) -> tuple[list[GeneratedText], int]:
    """The texts and how many transient failures were retried on the way."""
    attempt = 1
    while True:
        try:
            return write_texts(request, on_text, should_stop), attempt - 1
        except OSError:
            if attempt == TRANSIENT_ATTEMPTS:
                raise
            logger.warning("generation attempt %s failed; retrying", attempt, exc_info=True)
            time.sleep(2**attempt + random.random())  # backoff with jitter: 2-3 s, then 4-5 s
            attempt += 1


def failure_reason(exc: Exception, *, work: str, subject: str) -> str:
    """The reason the user reads: a GenerationError says what to fix in the model or the
    profile; anything else is a crash, logged with its traceback and named."""
    if isinstance(exc, GenerationError):
        return str(exc)
    logger.exception("%s of %s failed", work, subject)
    return f"{work} failed: {type(exc).__name__}: {exc}"


def _job_run_claimed(job: GenerationJob, worker_id: str) -> str:
    profile = job.model_profile
    watch = job_watch(job.pk, worker_id, profile.timeout_s if profile else DEFAULT_TIMEOUT_S)
    try:
        request = job_request(job)
        on_text, flush = text_sender(job, request.max_new_tokens)
        texts, retries = _generate_with_retries(request, on_text, watch.should_stop)
    except Exception as exc:
        # Left running, the job would be requeued by the sweeper and crash again forever.
        job_fail(job_id=job.pk, error=failure_reason(exc, work="Generation", subject=f"job {job.pk}"),
                 actor_label=worker_id)
        return "failed"
    if watch.timed_out:
        job_fail(job_id=job.pk, error=f"Generation timed out after {watch.timeout_s:.0f} s "
                 "(the model profile's timeout).", actor_label=worker_id)
        return "timed out"
    if watch.stopped:
        return "stopped"
    flush()
    timings = JobTimings(latency_s=time.monotonic() - watch.started, retries=retries)
    recorded = job_record_drafts(job_id=job.pk, worker_id=worker_id, texts=texts, timings=timings)
    return "recorded" if recorded else "dropped"


def job_run(*, job_id: int, worker_id: str, busy_retries: int) -> str:
    """Write the most urgent queued job's variants (see `job_claim_most_urgent`: usually the
    message's own job) and record them; returns what happened, for the worker log.

    Raises ConcurrencyLimitReached while the workspace has no free slot, for the task to
    look again later; after `busy_retries` reaches BUSY_MAX_RETRIES the job fails instead."""
    try:
        job = job_claim_most_urgent(job_id=job_id, worker_id=worker_id)
    except ConcurrencyLimitReached as exc:
        if busy_retries < BUSY_MAX_RETRIES:
            raise
        job_fail(job_id=job_id, error=f"No generation slot within an hour: {exc}",
                 actor_label=worker_id)
        return "failed"
    if job is None:
        return "skipped"
    return _job_run_claimed(job, worker_id)


def check_request(check: ProfileCheck) -> GenerationRequest:
    """The check's bounded request: the fixed prompt, one variant, CHECK_TOKENS at most."""
    profile = check.model_profile
    parameters = {**profile.parameters, "max_new_tokens": CHECK_TOKENS,
                  "min_new_tokens": CHECK_TOKENS // 4}
    parameters.pop("temperatures", None)  # one per variant, and a check writes one
    return profile_request(profile, request_id=check.pk, prompt=CHECK_PROMPT, variants=1,
                           target_words=CHECK_TOKENS, language_tag="en", parameters=parameters)


def profile_check_run(*, check_id: int, worker_id: str) -> str:
    """Write and record a queued test generation of a model profile, streaming its text
    live as `profile_check.progress` and its end as `profile_check.finished` (the profile's
    settings page shows both); returns what happened, for the worker log. A redelivered or
    ended check is skipped."""
    check = profile_check_claim(check_id=check_id, worker_id=worker_id)
    if check is None:
        return "skipped"
    timeout_s = min(CHECK_TIMEOUT_S, check.model_profile.timeout_s)
    started = time.monotonic()

    send = partial(profile_check_send, check)
    on_text, flush = text_stream(
        lambda _variant, payload: send("profile_check.progress", payload), CHECK_TOKENS)
    try:
        [text] = write_texts(check_request(check), on_text,
                             lambda: time.monotonic() - started > timeout_s)
        if time.monotonic() - started > timeout_s:
            raise GenerationError(f"The test generation took over {timeout_s} s.")
    except Exception as exc:
        profile_check_fail(check=check, error=failure_reason(
            exc, work="Test generation", subject=f"profile check {check.pk}"))
        send("profile_check.finished", {"state": check.state, "error": check.error})
        return "failed"
    flush()
    profile_check_record(check=check, text=text, latency_s=time.monotonic() - started)
    send("profile_check.finished", {"state": check.state, "text": check.text,
                                    "tokens": check.completion_tokens})
    return "recorded"


def busy_retry_countdown() -> float:
    return BUSY_RETRY_S * (1 + random.random())


def loss_sender(run: TrainingRun, worker_id: str) -> tuple[OnLoss, Callable[[], None]]:
    """Streams the loss, throttled, to the workspace's live dashboard, storing the points
    reported since the last send first (so a page reloaded after an event finds its point);
    returns (on_loss, flush), flush sending and storing the last of them when training ends.

    The report of the step that spends the run's token bound is stored before training goes
    on (after what is left of the throttle's interval), so the run stops for its budget at
    that step however many steps an interval holds; its worker stops at the next report."""
    unsaved: list[LossPoint] = []
    budget_at: int | None = None  # known at the first report: a resumed run counts its steps
    reported = False  # from its last stored point before that one

    def send(_key: int, point: LossPoint) -> None:
        # At most PROGRESS_MAX_PER_SECOND writes a second, each appending every point since
        # the one before (the engines report one every 10 steps).
        training_run_record_losses(run_id=run.pk, worker_id=worker_id, points=unsaved)
        unsaved.clear()
        progress_send(workspace_id=run.workspace_id, type="training.progress", subject=run,
                      payload={"training_run_id": run.pk, "step": point.step, "loss": point.loss})

    throttle: ProgressThrottle[LossPoint] = ProgressThrottle(send, settings.PROGRESS_MAX_PER_SECOND)

    def on_loss(step: int, loss: float) -> None:
        nonlocal budget_at, reported
        point = LossPoint(step=step, loss=round(loss, 4))
        if not reported:
            budget_at, reported = budget_step(run, first_step=step), True
        unsaved.append(point)
        throttle.offer(0, point)
        if budget_at is not None and step >= budget_at:
            throttle.flush()  # the run fails for its budget here, or TrainingStopped

    return on_loss, throttle.flush


def _train(run: TrainingRun, on_loss: OnLoss, published: PublishedTexts) -> dict[str, Any]:
    """Run the engine for the run's kind; the figures `training_run_succeed` records."""
    errors = training_parameters_errors(kind=run.kind, parameters=run.parameters)
    if errors:  # a run stored before a rule changed: checked again where it would run
        raise GenerationError(" ".join(errors))
    roots = model_roots(workspace_id=run.workspace_id)
    output = roots.workspace_dir / run.output_model  # the run's own new folder
    output.parent.mkdir(parents=True, exist_ok=True)
    parameters = dict(run.parameters)
    corpus = training_corpus(run)  # a dataset version's (train, test) texts, or None
    if run.kind == TrainingKind.FINETUNE:
        min_engagement = parameters.pop("min_engagement", 0)  # chooses the data, not the plan
        tuning = replace(FineTunePlan(), **parameters)
        texts, heldout = corpus if corpus is not None else (
            published(workspace_id=run.workspace_id, min_engagement=min_engagement), None)
        if min_engagement and not texts:
            raise GenerationError(
                f"No published texts with at least {min_engagement} engagement (likes, shares, "
                f"replies, clicks and signups together) to fine-tune on; lower min_engagement.")
        # the built-in model, or a base version inside the workspace's own models
        base_dir = roots.model_folder(run.base_model)
        report = finetune_model(base_dir, output, texts, tuning, on_loss=on_loss, heldout=heldout)
        return {"revision": report.revision, "steps": report.steps,
                "documents": report.documents, "final_loss": report.final_loss,
                "heldout_perplexity_before": report.heldout_perplexity_before,
                "heldout_perplexity_after": report.heldout_perplexity_after,
                "train_seconds": report.train_seconds,
                "tokens_seen": report.steps * tuning.batch_size * report.block_size,
                "card": (output / "README.md").read_text()}
    steps = parameters.pop("steps", DEFAULT_STEPS)
    plan = replace(TrainingPlan(), **parameters)
    split = CorpusSplit(train=corpus[0], heldout=corpus[1],
                        source=f"the workspace's dataset version {run.dataset_version_id}",
                        licence="the workspace's own texts") if corpus is not None else None
    # replace_existing: a run requeued after its worker died trains its own folder again.
    trained = train_builtin_model(output, steps, plan, replace_existing=True, on_loss=on_loss,
                                  corpus=split)
    return {"revision": trained.revision, "steps": trained.steps,
            "documents": len(corpus[0]) if corpus is not None else 0,
            "final_loss": trained.final_loss, "heldout_perplexity_before": None,
            "heldout_perplexity_after": trained.heldout_perplexity,
            "train_seconds": trained.train_seconds, "tokens_seen": trained.tokens_seen,
            "card": (output / "README.md").read_text()}


def training_run_execute(*, run_id: int, worker_id: str, published: PublishedTexts) -> str:
    """Train or fine-tune a queued run, streaming the loss; the run records the held-out
    perplexity. A fine-tuning run without a dataset version learns the workspace's
    `published` texts (publishing owns them: the caller passes its selector, as generation
    sits below publishing). Returns what happened, for the worker log; a redelivered or
    ended run is skipped."""
    run = training_run_claim(run_id=run_id, worker_id=worker_id)
    if run is None:
        return "skipped"
    on_loss, flush = loss_sender(run, worker_id)
    try:
        figures = _train(run, on_loss, published)
    except Exception as exc:
        training_run_fail(run_id=run.pk, actor_label=worker_id, error=failure_reason(
            exc, work="Training", subject=f"training run {run.pk}"))
        return "failed"
    flush()
    training_run_succeed(run_id=run.pk, worker_id=worker_id, **figures)
    return "trained"
