"""Reads for publishing."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from apps.core.models import Workspace
from apps.publishing.connectors.base import PublishItem
from apps.publishing.models import Publication


def publish_item_for(publication: Publication) -> PublishItem:
    """What a connector publishes: the brief's title and the approved revision's text.

    One query (the content type) on a publication from `publication_claim`,
    which loads the brief and the revision with it.
    """
    brief = publication.brief
    revision = publication.revision
    return PublishItem(
        idempotency_key=str(publication.idempotency_key),
        publication_id=publication.pk,
        brief_id=brief.pk,
        revision=revision.number,
        title=brief.title,
        body=revision.text,
        keywords=tuple(str(k) for k in brief.keywords),
        language=brief.language,
        content_type=brief.content_type.slug,
        published_at=timezone.now(),
    )


def publication_list(*, workspace: Workspace, brief_id: int | None = None) -> QuerySet[Publication]:
    """A workspace's publications (of one brief, if given), newest first, with their targets."""
    publications = Publication.objects.filter(workspace=workspace).select_related("target")
    if brief_id is not None:
        publications = publications.filter(brief_id=brief_id)
    return publications.order_by("-created_at", "-id")
