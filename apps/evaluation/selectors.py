"""Reads the evaluation side needs: what to score, what it must not duplicate, which gates apply."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from django.db.models import Prefetch, Q, QuerySet

from apps.briefs.models import ContentBrief
from apps.briefs.selectors import brief_get
from apps.core.models import Workspace
from apps.evaluation import gating
from apps.evaluation.models import (
    Evaluation,
    GateDecision,
    GateOutcome,
    QualityGate,
    RevisionEvaluation,
    TextFingerprint,
    WorkspaceEvaluationSettings,
)
from apps.generation.models import Draft, GenerationJob, JobState
from apps.reviews.models import DraftRevision
from workers.evaluation.language import language as language_of
from workers.evaluation.scorer import hard_metrics
from workers.evaluation.types import PublishedIndex, ScoringInput

Row = TypeVar("Row", bound=tuple[Any, ...])

# Ids bound into one `IN` list: well under SQLite's 32,766 parameters a statement.
IDS_PER_QUERY = 2000


def job_awaiting_evaluation(*, job_id: int) -> tuple[int, str] | None:
    """The job's workspace id and its brief's language tag while the job waits for
    evaluation, else None."""
    return (GenerationJob.objects.filter(pk=job_id, state=JobState.EVALUATING)
            .values_list("workspace_id", "brief__language").first())


def brief_text(*, title: str, topic: str, keywords: list[str]) -> str:
    """What a draft should be about, as one text to embed: title, topic, keywords."""
    parts = [title.strip(), topic.strip(), ", ".join(k.strip() for k in keywords if k.strip())]
    return "\n".join(part for part in parts if part)


_SCORING_FIELDS = ("brief__title", "brief__topic", "brief__keywords", "brief__target_length",
                   "brief__reference_texts", "brief__language", "brief__source_material",
                   "brief__style_guide__banned_terms", "brief__style_guide__required_terms")


def _scoring_input(draft: Draft, text: str) -> ScoringInput:
    brief, guide = draft.brief, draft.brief.style_guide
    return ScoringInput(
        draft_id=draft.pk,
        brief_text=brief_text(title=brief.title, topic=brief.topic, keywords=brief.keywords),
        draft_text=text,
        target_length=brief.target_length,
        keywords=tuple(brief.keywords),
        required_terms=tuple(guide.required_terms) if guide else (),
        banned_terms=tuple(guide.banned_terms) if guide else (),
        reference_texts=tuple(brief.reference_texts),
        source_material=brief.source_material,
        job_id=draft.job_id,
        language=brief.language,
    )


def scoring_inputs_for_job(job_id: int) -> list[ScoringInput]:
    """One ScoringInput per draft of the job, by variant, in one query."""
    drafts = (
        Draft.objects.filter(job_id=job_id)
        .select_related("brief", "brief__style_guide")
        .only("id", "job_id", "variant", "text", *_SCORING_FIELDS)
        .order_by("variant")
    )
    return [_scoring_input(draft, draft.text) for draft in drafts]


def revision_awaiting_evaluation(*, draft_id: int) -> tuple[int, int, ScoringInput] | None:
    """(workspace id, revision id, scoring input) of the draft's newest revision when it is a
    reviewer's edit not scored yet; None otherwise (the model's text, or scored already)."""
    revision = (DraftRevision.objects.filter(draft_id=draft_id, number__gt=1)
                .select_related("draft__brief__style_guide").order_by("-number").first())
    if revision is None or RevisionEvaluation.objects.filter(revision=revision).exists():
        return None
    return (revision.draft.brief.workspace_id, revision.pk,
            _scoring_input(revision.draft, revision.text))


def revision_hard_findings(*, revision: DraftRevision) -> tuple[gating.Finding, ...]:
    """The hard rules (gating.HARD_METRICS) the revision breaks, in plain words.

    Read from its scores when the evaluation worker has them (the model's text, or an edit
    re-scored); an edit not scored yet is checked at once on what needs no model
    (scorer.hard_metrics), so an approval never waits for a worker.
    """
    draft = revision.draft
    brief = draft.brief
    if revision.number == 1:
        stored = Evaluation.objects.filter(draft=draft).values_list("metrics", flat=True).first()
    else:
        stored = (RevisionEvaluation.objects.filter(revision=revision)
                  .values_list("metrics", flat=True).first())
    if stored is None:
        guide = brief.style_guide
        stored = hard_metrics(
            revision.text, language_tag=brief.language,
            banned_terms=tuple(guide.banned_terms) if guide else (),
            published=published_signatures(workspace_id=brief.workspace_id,
                                           language=brief.language),
        )
    rules = gating.merge([gate.policy() for gate in gates_for_brief(brief)]).rules
    return gating.findings(stored, gating.hard_rules(rules))


def _published_revisions(workspace_id: int) -> QuerySet[DraftRevision]:
    # A piece on its way out counts as published: two drafts approved the same day must
    # not both go out (`went_out` is kept by the workflow as publications move).
    return DraftRevision.objects.filter(draft__brief__workspace_id=workspace_id, went_out=True)


def _in_language(rows: Iterable[Row], language: str) -> list[Row]:
    """The rows whose last field, a brief's language tag, has `language`'s primary subtag
    ("zh" matches "zh" and "zh-CN"). Compared here, as the scorer reads tags: a case-folding
    test in SQL is one the planner cannot estimate, and it walked every brief of the workspace
    to find the published few."""
    code = language_of(language).code
    return [row for row in rows if language_of(row[-1]).code == code]


def published_texts_unindexed(*, workspace_id: int, embedding_model: str, language: str
                              ) -> list[tuple[int, str]]:
    """(revision id, text) of published revisions in `language` without a fingerprint of this
    model yet: a reviewer's edited revision, or one published before fingerprints were kept.

    Only the language's pieces: a workspace writing English and Chinese keeps its English
    pieces in the embedding model's space and its Chinese ones in the lexical fallback's,
    instead of each job re-indexing the other language's pieces. Usually none: their texts
    are read only when there are some.
    """
    unindexed = _in_language(
        _published_revisions(workspace_id).exclude(fingerprint__embedding_model=embedding_model)
        .values_list("pk", "draft__brief__language"), language)
    if not unindexed:
        return []
    return list(DraftRevision.objects.filter(pk__in=[pk for pk, _ in unindexed]).order_by("pk")
                .values_list("pk", "text"))


def embedding_model_dir(*, workspace_id: int) -> str:
    """The workspace's own sentence-transformers model folder; empty: the deployment's."""
    return (WorkspaceEvaluationSettings.objects.filter(workspace_id=workspace_id)
            .values_list("embedding_model_dir", flat=True).first() or "")


def _published_fingerprints(workspace_id: int) -> QuerySet[TextFingerprint]:
    # A fingerprint is its revision's workspace's: no need to join the brief for it.
    return TextFingerprint.objects.filter(workspace_id=workspace_id, revision__went_out=True)


def published_signatures(*, workspace_id: int, language: str) -> PublishedIndex:
    """The MinHash signatures of the workspace's published pieces in `language` (their
    embeddings left out: whichever model made them)."""
    rows = _published_fingerprints(workspace_id).order_by("pk").values_list(
        "revision_id", "signature", "revision__draft__brief__language")
    return PublishedIndex.from_stored((pk, None, signature)
                                      for pk, signature, _ in _in_language(rows, language))


def _published_in_space(workspace_id: int, embedding_model: str) -> QuerySet[TextFingerprint]:
    return (_published_fingerprints(workspace_id).filter(embedding_model=embedding_model)
            .order_by("revision_id"))


def published_piece_ids(*, workspace_id: int, embedding_model: str) -> list[int]:
    """The ids (ascending) of the workspace's published pieces fingerprinted with this model:
    what an evaluation worker checks its kept index against before each job."""
    return list(_published_in_space(workspace_id, embedding_model)
                .values_list("revision_id", flat=True))


def published_pieces(*, workspace_id: int, embedding_model: str,
                     piece_ids: Sequence[int] | None = None) -> PublishedIndex:
    """The workspace's published pieces (or those of `piece_ids` among them) as stored
    fingerprints, ordered by id, in one query (one per 2,000 ids).

    The comparison is one matrix product over these rows; reading them is what grows with the
    history (about 0.09 s for 7,680 pieces here: bench/history_scale.py), which is why the
    evaluation worker keeps them between jobs (apps.evaluation.running). Past tens of
    thousands of pieces, pgvector's index would do the nearest-neighbour part inside
    PostgreSQL.
    """
    rows = _published_in_space(workspace_id, embedding_model).values_list(
        "revision_id", "embedding", "signature")
    if piece_ids is None:
        return PublishedIndex.from_stored(rows)
    return PublishedIndex.from_stored(
        row for start in range(0, len(piece_ids), IDS_PER_QUERY)
        for row in rows.filter(revision_id__in=piece_ids[start:start + IDS_PER_QUERY]))


def gates_for_brief(brief: ContentBrief) -> list[QualityGate]:
    """The enabled gates of the brief's content type: the general one, plus one per target
    that publishes automatically (where an approved draft would go)."""
    return list(
        QualityGate.objects.filter(content_type_id=brief.content_type_id, enabled=True)
        .filter(Q(target=None) | Q(target__enabled=True, target__auto_publish=True))
        .order_by("target_id", "pk")
    )


def auto_approve_enabled(*, workspace_id: int) -> bool:
    return WorkspaceEvaluationSettings.objects.filter(
        workspace_id=workspace_id, auto_approve=True).exists()


def regenerations_done(*, brief_id: int) -> int:
    """How many automatic regenerations led to the job now evaluated: the run of
    `regenerate` decisions since the brief's last other decision."""
    latest = GateDecision.objects.filter(brief_id=brief_id).order_by("-id").first()
    if latest is None or latest.decision != GateOutcome.REGENERATE:
        return 0
    return latest.regeneration + 1


def drafts_scored(*, workspace: Workspace) -> QuerySet[Draft]:
    """The workspace's drafts with their evaluation and their revisions newest first
    (`revisions_newest_first`, which the API's draft shape reads)."""
    revisions = DraftRevision.objects.select_related("author").order_by("-number")
    return (Draft.objects.filter(brief__workspace=workspace).select_related("evaluation")
            .prefetch_related(Prefetch("revisions", queryset=revisions,
                                       to_attr="revisions_newest_first")))


def evaluations_of(*, workspace: Workspace) -> QuerySet[Evaluation]:
    """The workspace's evaluations with their draft."""
    return Evaluation.objects.filter(draft__brief__workspace=workspace).select_related("draft")


def score_cards(*, workspace: Workspace, brief_id: int) -> list[GateDecision]:
    """The brief's gate decisions, newest first (the history across regenerations), each
    with its job's drafts and their evaluations: four queries however many there are.
    A brief of another workspace does not exist here (404)."""
    brief = brief_get(workspace=workspace, brief_id=brief_id)
    return list(
        GateDecision.objects.filter(brief=brief).order_by("-id").prefetch_related(
            Prefetch("job__drafts", queryset=Draft.objects.select_related("evaluation")))
    )


def approval_group_required(*, brief_id: int) -> str:
    """The reviewer group whose approval the gate asked for on the brief's latest job ('' if none);
    for the review service to check before an approval."""
    latest = GateDecision.objects.filter(brief_id=brief_id).order_by("-id").first()
    return latest.required_group if latest else ""
