"""A brief with everything the pipeline made for it, scoped to one workspace."""

from __future__ import annotations

from django.db.models import Prefetch

from apps.briefs.models import ContentBrief
from apps.core.errors import NotFound
from apps.core.models import Workspace
from apps.generation.models import Draft, GenerationJob
from apps.publishing.models import Publication
from apps.reviews.models import DraftRevision, Review


def brief_detail(*, workspace: Workspace, brief_id: int) -> ContentBrief:
    """The brief with its jobs, drafts (scores, newest revision first), reviews, publications.

    Six queries whatever the number of jobs, drafts or reviews.
    """
    revisions = DraftRevision.objects.select_related("author").order_by("-number")
    drafts = Draft.objects.select_related("evaluation").prefetch_related(
        Prefetch("revisions", queryset=revisions, to_attr="revisions_newest_first")
    )
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
