"""Approved content for publishing tests, carried there by the real services."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from apps.core.models import Workspace
from apps.publishing.models import Publication, PublishingTarget
from apps.workflow.services import review_approve
from tests import factories


def approved_publications(ws: Workspace, *targets: PublishingTarget,
                          publish_at: datetime | None = None, **brief: object
                          ) -> list[Publication]:
    """A brief through generation, scoring and review, approved for `targets`."""
    in_review = factories.brief_in_review(ws, scores=(0.8,), **brief)
    review_approve(brief=in_review, draft_id=in_review.jobs.get().drafts.get().pk,
                   reviewer=factories.member(ws, "reviewer"),
                   target_ids=[t.pk for t in targets], publish_at=publish_at)
    return list(Publication.objects.filter(brief=in_review).order_by("target_id"))


def backoff_elapses(publication: Publication) -> None:
    """The retry's due time arrives (instead of sleeping through the backoff)."""
    Publication.objects.filter(pk=publication.pk).update(scheduled_at=timezone.now())
