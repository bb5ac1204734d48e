"""Reads for publishing."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta

from django.db.models import F, QuerySet
from django.utils import timezone

from apps.core.models import Workspace
from apps.publishing.connectors import Preview, connector_for
from apps.publishing.connectors.base import PublishItem
from apps.publishing.models import Publication, PublicationState, PublishingTarget, TargetKind


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
        scheduled_at=publication.scheduled_at,
    )


def publication_list(*, workspace: Workspace) -> QuerySet[Publication]:
    """A workspace's publications, newest first, with their targets."""
    return (Publication.objects.filter(workspace=workspace).select_related("target")
            .order_by("-created_at", "-id"))


def publication_preview(*, target: PublishingTarget, title: str, text: str,
                        keywords: Sequence[str] = (), language: str = "en") -> Preview:
    """`text` (Markdown) as `target` would receive it, for the review screen. No network:
    a Mastodon thread is split at the target's configured `max_characters` (500 if unset)."""
    item = PublishItem(
        idempotency_key=str(uuid.UUID(int=0)), publication_id=0, brief_id=0, revision=0,
        title=title, body=text, keywords=tuple(keywords), language=language,
        content_type="", published_at=timezone.now(),
    )
    return connector_for(target).preview(item)


# Engagement settles within days; older posts are not asked again.
ENGAGEMENT_WINDOW = timedelta(days=30)
ENGAGEMENT_KINDS = (TargetKind.WORDPRESS, TargetKind.GHOST, TargetKind.MASTODON)


def publications_for_engagement(*, limit: int = 500) -> QuerySet[Publication]:
    """Recent published posts on targets that count reactions, least recently pulled first."""
    return (
        Publication.objects.filter(
            state=PublicationState.PUBLISHED, target__kind__in=ENGAGEMENT_KINDS,
            target__enabled=True, target__credentials_rejected=False,
            published_at__gte=timezone.now() - ENGAGEMENT_WINDOW,
        ).exclude(external_id="")
        .select_related("target")
        .order_by(F("engagement_at").asc(nulls_first=True), "id")[:limit]
    )
