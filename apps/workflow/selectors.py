"""A brief with everything the pipeline made for it, and its lineage, scoped to one workspace."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Prefetch

from apps.briefs.models import ContentBrief
from apps.core.errors import NotFound
from apps.core.models import Workspace
from apps.evaluation.models import Evaluation, GateDecision
from apps.evaluation.selectors import drafts_scored
from apps.generation.models import Draft, GenerationJob
from apps.publishing.models import Publication
from apps.reviews.models import DraftRevision, Review


def brief_detail(*, workspace: Workspace, brief_id: int) -> ContentBrief:
    """The brief with its jobs, drafts (scores, newest revision first), reviews, publications.

    Six queries whatever the number of jobs, drafts or reviews.
    """
    drafts = drafts_scored(workspace=workspace)
    brief = (
        ContentBrief.objects.filter(workspace=workspace, pk=brief_id)
        .select_related("content_type")
        .prefetch_related(
            Prefetch("jobs", queryset=GenerationJob.objects.order_by("id")),
            Prefetch("drafts", queryset=drafts.order_by("job_id", "variant")),
            Prefetch("reviews", queryset=Review.objects.select_related("reviewer", "revision")),
            Prefetch("publications", queryset=Publication.objects.select_related("target")
                     .order_by("id")),
        )
        .first()
    )
    if brief is None:
        raise NotFound(f"Brief {brief_id} not found.")
    return brief


@dataclass(frozen=True)
class DraftLineage:
    """A draft with its scores (None until scored) and the reviewers' edits (revisions after
    the model's own, oldest first, each with its scores once rescored)."""

    draft: Draft
    scores: Evaluation | None
    edits: list[DraftRevision]


@dataclass(frozen=True)
class JobLineage:
    """One round of generation: the template and rendered prompt, the model profile, its
    drafts, and what the quality gate decided (None before it did)."""

    job: GenerationJob
    drafts: list[DraftLineage]
    gate: GateDecision | None


@dataclass(frozen=True)
class BriefLineage:
    brief: ContentBrief
    jobs: list[JobLineage]
    reviews: list[Review]
    publications: list[Publication]


def brief_lineage(*, workspace_id: int, brief_id: int) -> BriefLineage:
    """How a brief's published text came to be, oldest first: each job's prompt template
    version and rendered prompt, model, parameters and seeds, every draft's scores and the
    gate's decision, each review decision and edit, each publication with its engagement.

    Six queries whatever the number of jobs, drafts, edits, reviews or publications.
    """
    brief = (ContentBrief.objects.filter(workspace_id=workspace_id, pk=brief_id)
             .select_related("content_type").first())
    if brief is None:
        raise NotFound(f"Brief {brief_id} not found.")
    edits = (DraftRevision.objects.filter(number__gt=1).select_related("author", "evaluation")
             .order_by("number"))
    drafts = (Draft.objects.select_related("evaluation", "prompt_template_version")
              .prefetch_related(Prefetch("revisions", queryset=edits, to_attr="edits"))
              .order_by("variant"))
    jobs = (GenerationJob.objects.filter(brief=brief)
            .select_related("model_profile", "prompt_template_version", "gate_decision")
            .prefetch_related(Prefetch("drafts", queryset=drafts, to_attr="lineage_drafts"))
            .order_by("id"))
    # A missing one-to-one row (not scored yet, no gate yet) reads as None; `lineage_drafts`
    # and `edits` are the prefetched lists (Prefetch to_attr).
    return BriefLineage(
        brief=brief,
        jobs=[JobLineage(job=job, gate=getattr(job, "gate_decision", None), drafts=[
            DraftLineage(draft=draft, scores=getattr(draft, "evaluation", None), edits=draft.edits)
            for draft in job.lineage_drafts]) for job in jobs],
        reviews=list(Review.objects.filter(brief=brief).select_related("reviewer", "revision")
                     .order_by("created_at", "id")),
        publications=list(Publication.objects.filter(brief=brief)
                          .select_related("target", "revision").order_by("id")),
    )
