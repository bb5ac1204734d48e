"""Scoring texts against a brief given as plain JSON, with no database row: `manage.py evaluate`.

The same scorer and gate rules as the evaluation worker, so a team can check content in
CI and see why a gate fires before a brief ever runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from apps.evaluation import gating
from apps.evaluation.selectors import brief_text
from workers.evaluation.language import language as language_of
from workers.evaluation.scorer import score_drafts
from workers.evaluation.types import ScoringInput

DEFAULT_TARGET_LENGTH = 120  # a content type's default length
# The output spells ROUGE as the command's documented format does; gate rules and stored
# scores keep rouge-score's own names (rouge1, rouge2, rougeL).
OUTPUT_NAMES = {"rouge1": "rouge_1", "rouge2": "rouge_2", "rougeL": "rouge_l"}
_TEXT_FIELDS = ("title", "topic", "language", "source_material")
_LIST_FIELDS = ("keywords", "required_terms", "banned_terms", "reference_texts")


def _strings(brief: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = brief.get(name, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"brief.{name} must be a list of strings.")
    return tuple(value)


def scoring_inputs(brief: Mapping[str, Any], drafts: Sequence[str]) -> list[ScoringInput]:
    """One ScoringInput per draft (one job, so the drafts are compared with each other);
    ValueError in plain words for a malformed brief."""
    for name in _TEXT_FIELDS:
        if not isinstance(brief.get(name, ""), str):
            raise ValueError(f"brief.{name} must be a string.")
    target = brief.get("target_length", DEFAULT_TARGET_LENGTH)
    if isinstance(target, bool) or not isinstance(target, int) or target <= 0:
        raise ValueError("brief.target_length must be a positive whole number.")
    if not drafts or not all(isinstance(d, str) for d in drafts):
        raise ValueError("drafts must be a non-empty list of strings.")
    lists = {name: _strings(brief, name) for name in _LIST_FIELDS}
    about = brief_text(title=brief.get("title", ""), topic=brief.get("topic", ""),
                       keywords=list(lists["keywords"]))
    return [
        ScoringInput(draft_id=i, brief_text=about, draft_text=text, target_length=target,
                     source_material=brief.get("source_material", ""),
                     language=brief.get("language", "") or "en", job_id=0, **lists)
        for i, text in enumerate(drafts)
    ]


def evaluate(payload: Mapping[str, Any], model_dir: Path) -> dict[str, Any]:
    """{"language", "unit", "drafts": [{"metrics", "decision", "reasons"}]} for
    {"brief": {...}, "drafts": [...], "rules": [...] (optional; default: a new gate's)}.

    decision: "fail" when a hard rule breaks, "review" on a warning, else "pass"; each
    reason is "<rule>: <plain words>" (rule: wrong_language, not_language, banned_term...).
    """
    brief, drafts = payload.get("brief"), payload.get("drafts")
    if not isinstance(brief, dict):
        raise ValueError("brief must be an object.")
    if not isinstance(drafts, list):
        raise ValueError("drafts must be a non-empty list of strings.")
    rules = gating.rules_from(payload.get("rules", gating.default_rules()))
    inputs = scoring_inputs(brief, drafts)
    lang = language_of(inputs[0].language)
    results = []
    for score in score_drafts(inputs, model_dir):
        values = gating.gated_metrics(score)
        found = gating.findings(values, rules)
        shown = {OUTPUT_NAMES.get(name, name): value for name, value in values.items()}
        results.append({"metrics": shown, "decision": gating.verdict(found),
                        "reasons": [f"{f.rule}: {f.reason}" for f in found]})
    return {"language": lang.code, "unit": lang.unit, "drafts": results}
