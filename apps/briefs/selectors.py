"""Reads of briefs and what hangs off them, scoped to one workspace, query-count aware."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from apps.briefs.models import ContentBrief, ContentType, StyleGuide
from apps.core.errors import NotFound
from apps.core.models import Workspace


def content_type_find(*, workspace: Workspace, ref: str) -> ContentType | None:
    """A content type of `workspace` by id or slug; an id wins over a numeric slug."""
    types = ContentType.objects.filter(workspace=workspace)
    found = types.filter(pk=int(ref)).first() if ref.isdigit() else None
    return found or types.filter(slug=ref).first()


def style_guide_find(*, workspace: Workspace, style_guide_id: int) -> StyleGuide | None:
    return StyleGuide.objects.filter(workspace=workspace, pk=style_guide_id).first()


def brief_list(*, workspace: Workspace, state: str | None = None) -> QuerySet[ContentBrief]:
    """Newest first; the content type comes in the same query."""
    briefs = ContentBrief.objects.filter(workspace=workspace).select_related("content_type")
    if state:
        briefs = briefs.filter(state=state)
    return briefs.order_by("-created_at", "-id")


def brief_get(*, workspace: Workspace, brief_id: int) -> ContentBrief:
    """The brief, if it is in `workspace`; another workspace's brief does not exist here."""
    brief = ContentBrief.objects.filter(workspace=workspace, pk=brief_id).first()
    if brief is None:
        raise NotFound(f"Brief {brief_id} not found.")
    return brief


def brief_state_counts(*, workspace_id: int) -> dict[str, int]:
    rows = (
        ContentBrief.objects.filter(workspace_id=workspace_id)
        .values("state")
        .annotate(n=Count("id"))
        .order_by("state")
    )
    return {row["state"]: row["n"] for row in rows}
