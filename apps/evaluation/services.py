"""Recording a job's scores, applying the quality gate, and acting on its decision."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from django.db import transaction

from apps.briefs.models import ContentBrief, ContentType, StyleGuide
from apps.briefs.presets import PRESETS
from apps.briefs.services import (
    content_type_create,
    content_type_update,
    style_guide_create,
    style_guide_update,
)
from apps.core.models import Workspace
from apps.core.services import Actor, audit_record, event_emit
from apps.evaluation import gating, selectors
from apps.evaluation.models import (
    Evaluation,
    GateDecision,
    QualityGate,
    RevisionEvaluation,
    TextFingerprint,
    WorkspaceEvaluationSettings,
)
from apps.generation.models import Draft, GenerationJob, JobState
from apps.generation.services import job_succeed
from apps.reviews.models import DraftRevision
from workers.evaluation.types import DraftScore, PublishedPiece

GATE_ACTOR = "quality-gate"


def fingerprints_store(
    *, workspace_id: int, pieces: Sequence[PublishedPiece], embedding_model: str
) -> None:
    """Store fingerprints of revisions (piece_id is the revision id), one per revision, in
    one upsert (a statement of its own: every job's evaluation calls it).

    Idempotent; a fingerprint made with another embedding model is replaced, so a
    change of model re-indexes published pieces once.
    """
    rows = {piece.piece_id: TextFingerprint(
        revision_id=piece.piece_id, workspace_id=workspace_id, embedding=embedding,
        embedding_model=embedding_model, signature=signature)
        for piece in pieces for embedding, signature in [piece.stored()]}
    if rows:
        TextFingerprint.objects.bulk_create(
            rows.values(), update_conflicts=True, unique_fields=["revision"],
            update_fields=["workspace", "embedding", "embedding_model", "signature"])


EVALUATION_SCORES = ("relevance", "length_fit", "score", "metrics", "embedding_model", "rank",
                     "passed", "findings")


def _policy(gates: Sequence[QualityGate]) -> gating.Policy:
    return gating.merge([gate.policy() for gate in gates])


def _feedback(decision: gating.Decision) -> str:
    return ("The quality gate rejected every variant: " + "; ".join(decision.reasons)
            + ". Write a new version that fixes this.")


@transaction.atomic
def evaluation_record(
    *, job_id: int, scores: Sequence[DraftScore], actor_label: str = "",
    audit_draw: float | None = None,
) -> GenerationJob | None:
    """Store one Evaluation per draft, apply the brief's quality gates, and record the decision.

    evaluating → succeeded; `job.succeeded` carries the decision, which the workflow acts on:
    - with no gate, or `review`: the brief goes to review;
    - `regenerate`: the brief is queued again with the gate's reasons as `feedback` (at most
      the gate's max_regenerations times);
    - `auto_approve` (only where the workspace enables it): the best variant is approved.
    Idempotent: returns None when the job is no longer evaluating (cancelled, or
    recorded by an earlier delivery). `audit_draw` (uniform in [0, 1)) is drawn here
    unless given.
    """
    job = GenerationJob.objects.select_for_update().filter(pk=job_id).first()
    if job is None or job.state != JobState.EVALUATING:
        return None
    brief = ContentBrief.objects.get(pk=job.brief_id)
    drafts = {d.pk: d for d in Draft.objects.filter(job=job)}
    gates = selectors.gates_for_brief(brief)
    decision = None
    if gates:
        decision = gating.decide(
            [gating.Variant(draft_id=s.draft_id, text=drafts[s.draft_id].text, score=s.score,
                            metrics=gating.gated_metrics(s)) for s in scores],
            _policy(gates),
            regenerations_done=selectors.regenerations_done(brief_id=brief.pk),
            auto_approve=selectors.auto_approve_enabled(workspace_id=job.workspace_id),
            audit_draw=random.random() if audit_draw is None else audit_draw,
        )
    verdicts = {v.draft_id: v for v in decision.variants} if decision else {}
    _record_scores(job, drafts, scores, verdicts)
    if decision is None:
        return job_succeed(job=job, actor_label=actor_label,
                           decision={"brief_id": brief.pk, "decision": gating.REVIEW})
    GateDecision.objects.create(
        workspace_id=job.workspace_id, job=job, brief=brief, decision=decision.decision,
        best_draft_id=decision.best_draft_id, passed=decision.passed,
        reasons=list(decision.reasons), risks=list(decision.risks),
        required_group=decision.required_group, audit_sampled=decision.audit_sampled,
        regeneration=decision.regeneration, gates=[gate.pk for gate in gates],
    )
    event_emit(
        workspace_id=job.workspace_id, type="gate.decided", subject=job,
        payload={"brief_id": brief.pk, "job_id": job.pk, "decision": decision.decision,
                 "passed": decision.passed, "best_draft_id": decision.best_draft_id,
                 "reasons": list(decision.reasons), "required_group": decision.required_group,
                 "regeneration": decision.regeneration},
    )
    return job_succeed(job=job, actor_label=actor_label, decision={
        "brief_id": brief.pk, "decision": decision.decision,
        "best_draft_id": decision.best_draft_id,
        "feedback": _feedback(decision) if decision.decision == gating.REGENERATE else ""})


def _record_scores(job: GenerationJob, drafts: dict[int, Draft], scores: Sequence[DraftScore],
                   verdicts: dict[int, gating.VariantVerdict]) -> None:
    revisions = dict(DraftRevision.objects.filter(draft__job=job, number=1)
                     .values_list("draft_id", "pk"))
    evaluations = []
    for score in scores:
        verdict = verdicts.get(score.draft_id)
        evaluations.append(Evaluation(
            draft=drafts[score.draft_id], relevance=score.relevance,
            length_fit=score.length_fit, score=verdict.score if verdict else score.score,
            metrics=score.metrics, embedding_model=score.embedding_model,
            rank=verdict.rank if verdict else None, passed=verdict.passed if verdict else None,
            findings=[f.__dict__ for f in verdict.findings] if verdict else []))
    # One upsert for the job's drafts: a draft scored before (a redelivery) gets the new scores.
    Evaluation.objects.bulk_create(evaluations, update_conflicts=True, unique_fields=["draft"],
                                   update_fields=[*EVALUATION_SCORES])
    by_model: dict[str, list[PublishedPiece]] = {}
    for score in scores:
        if score.embedding and score.draft_id in revisions:
            by_model.setdefault(score.embedding_model, []).append(PublishedPiece(
                piece_id=revisions[score.draft_id], embedding=score.embedding,
                signature=score.signature))
    for model, pieces in by_model.items():
        fingerprints_store(workspace_id=job.workspace_id, embedding_model=model, pieces=pieces)
    for evaluation in evaluations:
        draft = evaluation.draft
        event_emit(
            workspace_id=job.workspace_id, type="draft.evaluated", subject=draft,
            payload={"brief_id": job.brief_id, "job_id": job.pk, "draft_id": draft.pk,
                     "variant": draft.variant, "score": evaluation.score,
                     "relevance": evaluation.relevance, "length_fit": evaluation.length_fit,
                     "rank": evaluation.rank, "passed": evaluation.passed},
        )


@transaction.atomic
def revision_evaluation_record(*, revision_id: int, score: DraftScore) -> RevisionEvaluation | None:
    """Store the scores of a reviewer's edited revision and whether it keeps the hard rules,
    and tell the review screen (`revision.evaluated`, with the reasons of a failure). Its
    fingerprint is stored too, as the model's texts' are: once the edit goes out, the next
    job's evaluation finds it indexed instead of embedding it again first.

    Idempotent: a revision already scored keeps its first scores (returns None), as does one
    deleted meanwhile.
    """
    revision = (DraftRevision.objects.select_related("draft__brief").filter(pk=revision_id)
                .first())
    if revision is None or RevisionEvaluation.objects.filter(revision=revision).exists():
        return None
    brief = revision.draft.brief
    rules = _policy(selectors.gates_for_brief(brief)).rules
    broken = gating.findings(score.metrics, gating.hard_rules(rules))
    evaluation = RevisionEvaluation.objects.create(
        revision=revision, relevance=score.relevance, length_fit=score.length_fit,
        score=score.score, metrics=score.metrics, embedding_model=score.embedding_model,
        passed=not broken, findings=[f.__dict__ for f in broken],
    )
    if score.embedding:
        fingerprints_store(workspace_id=brief.workspace_id, embedding_model=score.embedding_model,
                           pieces=[PublishedPiece(piece_id=revision.pk, embedding=score.embedding,
                                                  signature=score.signature)])
    event_emit(workspace_id=brief.workspace_id, type="revision.evaluated", subject=revision.draft,
               payload={"brief_id": brief.pk, "draft_id": revision.draft_id,
                        "revision": revision.number, "score": score.score,
                        "passed": evaluation.passed, "reasons": [f.reason for f in broken]})
    return evaluation


@transaction.atomic
def quality_gate_set(*, content_type: ContentType, name: str, rules: list[dict[str, Any]],
                     weights: dict[str, float], actor: Actor = None) -> QualityGate:
    """The content type's general gate (no target) with these rules and weights, created or
    replaced, and audited (`quality_gate.set`); rules or weights refused in plain words
    (ValueError) when malformed."""
    gating.rules_from(rules)
    if not all(isinstance(metric, str) and isinstance(weight, int | float)
               and not isinstance(weight, bool) for metric, weight in weights.items()):
        raise ValueError("Weights map metric names to numbers, e.g. {\"relevance\": 0.6}.")
    gate, _ = QualityGate.objects.update_or_create(
        content_type=content_type, target=None,
        defaults={"workspace_id": content_type.workspace_id, "name": name, "rules": rules,
                  "weights": weights, "enabled": True},
    )
    audit_record(workspace_id=content_type.workspace_id, action="quality_gate.set", subject=gate,
                 actor=actor, after={"name": name, "rules": rules, "weights": weights})
    return gate


@transaction.atomic
def evaluation_settings_set(*, workspace_id: int, auto_approve: bool | None = None,
                            embedding_model_dir: str | None = None) -> WorkspaceEvaluationSettings:
    """Set a workspace's evaluation switches; an argument left None keeps its value.

    auto_approve is off by default; embedding_model_dir names a sentence-transformers
    model folder on the evaluation workers (empty: the deployment's model).
    """
    changes: dict[str, object] = {}
    if auto_approve is not None:
        changes["auto_approve"] = auto_approve
    if embedding_model_dir is not None:
        changes["embedding_model_dir"] = embedding_model_dir.strip()
    settings, _ = WorkspaceEvaluationSettings.objects.update_or_create(
        workspace_id=workspace_id, defaults=changes)
    return settings


@transaction.atomic
def content_type_presets_load(*, workspace: Workspace, actor: Actor = None) -> list[ContentType]:
    """The six domains' content types in English and Chinese (apps/briefs/presets.py), each
    with its gate, its target format and its style guide (the domain's tone and bans).
    Idempotent: a preset already loaded is brought back to the preset, so running it again
    after an upgrade applies improved presets."""
    loaded = []
    for preset in PRESETS:
        wanted = preset.style_guide
        tone, banned_terms = wanted.tone, list(wanted.banned_terms)
        guide = StyleGuide.objects.filter(workspace=workspace, name=wanted.name).first()
        guide = (style_guide_update(style_guide=guide, actor=actor, tone=tone,
                                    banned_terms=banned_terms) if guide
                 else style_guide_create(workspace=workspace, name=wanted.name, actor=actor,
                                         tone=tone, banned_terms=banned_terms))
        fields = {**preset.content_type_fields(), "style_guide": guide}
        existing = ContentType.objects.filter(workspace=workspace, slug=preset.slug).first()
        content_type = (content_type_update(content_type=existing, actor=actor, **fields)
                        if existing else content_type_create(workspace=workspace, slug=preset.slug,
                                                             actor=actor, **fields))
        quality_gate_set(content_type=content_type, name=preset.name,
                         rules=[*gating.default_rules(), *map(dict, preset.extra_rules)],
                         weights=dict(preset.weights), actor=actor)
        loaded.append(content_type)
    return loaded
