"""Training in the workspace's accounting: what runs use counts in the monthly budget of its
generation quota (`GenerationQuota`: tokens and device seconds per calendar month, UTC)
beside what its generation jobs use (`services.budget_left` adds them up).

A run records the tokens it trained on and the seconds a worker held it (`TrainingRun`
`tokens_trained`, `device_seconds`). A run, like a job, is refused once the month's budget
is spent (`services.quota_check_budget`); a run that starts gets what is left of it as its
own bound (`budget_tokens`, `budget_seconds`), checked at every loss it reports, and is
stopped there when it reaches it. Concurrent runs each get the whole remainder: the bound
may be overshot by what they use together, never by one run alone.
"""

from __future__ import annotations

import json
from dataclasses import replace
from types import SimpleNamespace
from typing import TypedDict

from django.utils import timezone

from apps.generation.models import TrainingKind, TrainingRun
from apps.generation.services import budget_left, model_roots
from workers.generation.builtin.finetune import FineTunePlan, model_window
from workers.generation.builtin.plan import TrainingPlan
from workers.generation.locations import ModelPathRefused


def tokens_per_step(run: TrainingRun) -> int:
    """At most how many tokens one optimiser step of the run reads: its batch of windows.
    Fine-tuning's window is the base model's context as the engine caps it (shorter only for
    a corpus shorter than that; the run's end records the engine's own count)."""
    parameters = {k: v for k, v in run.parameters.items() if k in ("batch_size", "block_size")}
    if run.kind == TrainingKind.TRAIN:
        plan = replace(TrainingPlan(), **parameters)
        return plan.batch_size * plan.block_size
    batch = replace(FineTunePlan(), **{k: v for k, v in parameters.items()
                                       if k == "batch_size"}).batch_size
    try:
        config = model_roots(workspace_id=run.workspace_id).model_folder(
            run.base_model) / "config.json"
        values = json.loads(config.read_text(encoding="utf-8"))
    except (ModelPathRefused, OSError, ValueError):
        values = {}  # the worker refuses it with the reason; the engine's default window here
    return batch * model_window(SimpleNamespace(**values if isinstance(values, dict) else {}))


class RunBounds(TypedDict):
    tokens_per_step: int
    budget_tokens: int | None
    budget_seconds: float | None


def run_bounds(run: TrainingRun) -> RunBounds:
    """The accounting fields a run takes when a worker claims it."""
    left = budget_left(workspace_id=run.workspace_id)
    return {"tokens_per_step": tokens_per_step(run),
            "budget_tokens": None if left.tokens is None else run.tokens_trained + left.tokens,
            "budget_seconds": None if left.device_seconds is None
            else run.device_seconds + left.device_seconds}


def budget_step(run: TrainingRun, *, first_step: int) -> int | None:
    """The step whose loss report spends the run's token bound, for a worker whose first
    report is at `first_step` (None: no token bound). Its steps count from the last stored
    point before that one, as `training_run_record_losses` counts them."""
    if run.budget_tokens is None or not run.tokens_per_step:
        return None
    start = max((step for step, _loss in run.loss_curve if step < first_step), default=0)
    return start + -(-(run.budget_tokens - run.tokens_trained) // run.tokens_per_step)


def budget_reached(run: TrainingRun) -> str:
    """Why the run must stop for the budget, or ""."""
    if run.budget_tokens is not None and run.tokens_trained >= run.budget_tokens:
        return (f"Stopped: the workspace's monthly token budget is spent ({run.tokens_trained:,} "
                "tokens trained in this run).")
    if run.budget_seconds is not None and run.device_seconds >= run.budget_seconds:
        return (f"Stopped: the workspace's monthly device-time budget is spent "
                f"({run.device_seconds:.0f} s in this run).")
    return ""


def seconds_held(run: TrainingRun) -> float:
    """The run's device seconds counted up to now: its last report (or its claim) moved
    `updated_at`, so the time since then is this worker's too."""
    return run.device_seconds + max(0.0, (timezone.now() - run.updated_at).total_seconds())
