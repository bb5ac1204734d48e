"""The registry's evaluation suite: a model version writes a small fixed set of test briefs
(suite_briefs.json, English and Chinese; those of the workspace's languages), and each draft
is scored by the evaluation suite (the scorer and rules `manage.py evaluate` uses) and held
to the workspace's gate; the mean scores and the gate pass rate become the version's
`metrics["suite"]`, which the registry compares side by side.

Bounded so it takes seconds on CPU with a small model: one draft per brief of at most
SUITE_TOKENS new tokens, with fixed seeds (the same weights write the same drafts); what each
draft used counts in the workspace's monthly budget as soon as it is written. It joins
generation and evaluation, so it lives here above both; a generation worker runs it
(`generation.evaluate_version`), as the version's weights are loaded there.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from apps.briefs.models import ContentType, TargetFormat
from apps.briefs.prompting import PROMPT_FIELDS, prompt_render
from apps.evaluation import gating
from apps.evaluation.models import QualityGate
from apps.evaluation.running import embedding_model_dir
from apps.evaluation.standalone import evaluate
from apps.generation.models import TrainingState
from apps.generation.running import Watch, failure_reason, write_texts
from apps.generation.services import draft_text_clean, model_roots
from apps.generation.suite import (
    suite_progress_send,
    suite_run_beat,
    suite_run_claim,
    suite_run_fail,
    suite_run_record,
    suite_run_spent,
)
from workers.evaluation.language import language
from workers.generation.engine import BUILTIN, GenerationError
from workers.generation.requests import request_for_job

SUITE_BRIEFS: list[dict[str, Any]] = json.loads(
    Path(__file__).with_name("suite_briefs.json").read_text(encoding="utf-8"))
SUITE_TOKENS = 48
SUITE_SEED = 20_260_101  # brief n is written with seed SUITE_SEED + n
SUITE_TIMEOUT_S = 600  # the whole run: a large model on CPU, not the tiny one's seconds
BEAT_EVERY_S = 2.0
MEANS = ("score", "relevance", "length_fit")


def suite_briefs(*, workspace_id: int) -> list[dict[str, Any]]:
    """The test briefs in the languages the workspace's content types write in; the English
    ones where the suite has none of those."""
    codes = {language(tag).code for tag in ContentType.objects.filter(
        workspace_id=workspace_id).values_list("language", flat=True)}
    return ([b for b in SUITE_BRIEFS if language(b["language"]).code in codes]
            or [b for b in SUITE_BRIEFS if language(b["language"]).code == "en"])


def suite_rules(*, workspace_id: int) -> list[dict[str, Any]]:
    """The workspace's gate: the rules of its enabled content-type gates together (a draft
    passes when no gate fails it), or a new gate's rules where it has none."""
    rules = [rule for gate_rules in QualityGate.objects.filter(
        workspace_id=workspace_id, enabled=True, target__isnull=True).values_list(
        "rules", flat=True) for rule in gate_rules]
    return rules or gating.default_rules()


def suite_summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The version's figures: the mean of each score, the share of drafts no rule failed."""
    return {"briefs": len(results), "languages": sorted({r["language"] for r in results}),
            "gate_pass_rate": round(sum(r["passed"] for r in results) / len(results), 4),
            **{name: round(statistics.fmean(r[name] for r in results), 4) for name in MEANS},
            "tokens": sum(r["tokens"] for r in results)}


def _quiet(variant: int, text: str, tokens: int) -> None:
    """A suite draft is not streamed: nobody watches it being written."""


@dataclass(frozen=True)
class _Suite:
    """What every test brief of one run is written and judged with."""

    run_id: int
    worker_id: str
    watch: Watch
    folder: str  # the version's weights
    rules: list[dict[str, Any]]
    scoring_model: Path


def _brief_result(brief: dict[str, Any], number: int, suite: _Suite) -> dict[str, Any]:
    fields = {**{name: brief.get(name, "") for name in PROMPT_FIELDS},
              "keywords": ", ".join(brief["keywords"]), "target_format": TargetFormat.TEXT}
    request = request_for_job(
        job_id=number, prompt=prompt_render(brief["template"], fields), variants=1,
        target_words=brief["target_length"], language_tag=brief["language"], backend=BUILTIN,
        model=suite.folder, parameters={"max_new_tokens": SUITE_TOKENS,
                                  "min_new_tokens": SUITE_TOKENS // 2,
                                  "seed": SUITE_SEED + number})
    texts = write_texts(request, _quiet, suite.watch.should_stop)
    suite_run_spent(run_id=suite.run_id, worker_id=suite.worker_id, written=texts)
    [written] = texts
    text = draft_text_clean(written.text)
    [scored] = evaluate({"brief": brief, "drafts": [text], "rules": suite.rules},
                        suite.scoring_model)["drafts"]
    metrics = scored["metrics"]
    return {"brief": brief["name"], "language": brief["language"], "text": text,
            "tokens": written.completion_tokens, "decision": scored["decision"],
            "passed": scored["decision"] != gating.FAIL, "reasons": scored["reasons"],
            **{name: round(metrics[name], 4) for name in MEANS}}


def suite_run_execute(*, run_id: int, worker_id: str) -> str:
    """Claim a queued suite run, write each test brief with its version, score and gate the
    drafts, and record the results and the version's figures; returns what happened, for the
    worker log. A redelivered or ended run is skipped; a cancelled one stops within seconds."""
    run = suite_run_claim(run_id=run_id, worker_id=worker_id)
    if run is None:
        return "skipped"
    version = run.version
    # Beats the run's heartbeat and stops once the run is no longer this worker's
    # (cancelled, failed by the reconciler) or has taken SUITE_TIMEOUT_S.
    watch = Watch(beat=lambda: suite_run_beat(run_id=run.pk, worker_id=worker_id),
                  timeout_s=SUITE_TIMEOUT_S, beat_every=BEAT_EVERY_S)
    results: list[dict[str, Any]] = []
    briefs: list[dict[str, Any]] = []
    try:
        briefs = suite_briefs(workspace_id=version.workspace_id)
        suite_progress_send(run, state=TrainingState.RUNNING, briefs=len(briefs))
        suite = _Suite(
            run_id=run.pk, worker_id=worker_id, watch=watch,
            folder=str(model_roots(workspace_id=version.workspace_id).model_folder(version.folder)),
            rules=suite_rules(workspace_id=version.workspace_id),
            scoring_model=embedding_model_dir(version.workspace_id))
        for number, brief in enumerate(briefs):
            if watch.should_stop():
                break
            results.append(_brief_result(brief, number, suite))
            suite_progress_send(run, state=TrainingState.RUNNING, done=len(results),
                                briefs=len(briefs))
        if watch.timed_out:
            raise GenerationError(f"The evaluation suite took over {SUITE_TIMEOUT_S} s.")
    except Exception as exc:
        if suite_run_fail(run_id=run.pk, error=failure_reason(
                exc, work="The evaluation suite", subject=f"suite run {run.pk}")):
            suite_progress_send(run, state=TrainingState.FAILED, done=len(results),
                                briefs=len(briefs))
        return "failed"
    if watch.stopped or suite_run_record(run_id=run.pk, worker_id=worker_id, results=results,
                                         summary=suite_summary(results)) is None:
        return "stopped"
    suite_progress_send(run, state=TrainingState.SUCCEEDED, done=len(results), briefs=len(briefs))
    return "recorded"
