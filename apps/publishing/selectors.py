"""Reads for publishing, and of what published pieces drew: engagement totals and the
evaluation report that relates them to the gate's scores and the reviewers' decisions."""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db.models import F, QuerySet
from django.utils import timezone

from apps.core.models import Workspace
from apps.evaluation.models import Evaluation
from apps.evaluation.report import REPORT_METRICS
from apps.generation.models import GenerationJob, JobState
from apps.publishing.connectors import Preview, connector_for
from apps.publishing.connectors.base import PublishItem
from apps.publishing.models import Publication, PublicationState, PublishingTarget, TargetKind
from apps.reviews.models import DraftRevision, Review


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


def publications_of_revision(*, brief_id: int, revision_id: int) -> list[Publication]:
    """The brief's publications of one revision (what an approval scheduled), with targets."""
    return list(Publication.objects.filter(brief_id=brief_id, revision_id=revision_id)
                .select_related("target").order_by("id"))


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


def engagement_totals(publications: QuerySet[Publication], *, by: str) -> dict[Any, int]:
    """Total engagement per `by` (a Publication field path such as "revision_id"), one query.

    A post's total engagement is every reaction its target counts, added up: likes
    (favourites) + shares (boosts) + replies (comments) + clicks + signups + paid conversions,
    whichever the target has (see `Engagement` of the connectors); a key's total sums its
    posts on every target. A post without counts is no data, not zero (a file or webhook
    target counts nothing; a post not pulled yet has nothing): a key with only such posts is
    absent. A withdrawn post keeps the counts read while it was out.
    """
    totals: dict[Any, int] = {}
    for key, counts in publications.exclude(engagement={}).values_list(by, "engagement"):
        totals[key] = totals.get(key, 0) + sum(counts.values())
    return totals


def gate_report_rows(*, workspace_id: int | None = None, finished_since: datetime | None = None
                     ) -> list[dict[str, Any]]:
    """One row per evaluated job (finished since `finished_since`, if given): its best variant's
    metrics, the gate's call, the first reviewer decision on the brief after the job finished
    (before the brief's next job), and the total engagement of what the job published (None
    without engagement data).

    Three queries: the best evaluations with their job, brief, content type and gate decision;
    the briefs' reviews; the engagement of the jobs' publications.
    """
    evaluations = (
        Evaluation.objects.filter(draft__job__state=JobState.SUCCEEDED)
        .select_related("draft__job__gate_decision", "draft__brief__content_type")
        .order_by("draft__job_id", "rank", "-score", "draft__variant")
    )
    if workspace_id is not None:
        evaluations = evaluations.filter(draft__brief__workspace_id=workspace_id)
    if finished_since is not None:
        evaluations = evaluations.filter(draft__job__finished_at__gte=finished_since)
    best: dict[int, Evaluation] = {}
    for evaluation in evaluations:
        best.setdefault(evaluation.draft.job_id, evaluation)  # the first is the best ranked
    reviews: dict[int, list[Review]] = {}
    for review in Review.objects.filter(
            brief_id__in={e.draft.brief_id for e in best.values()}).order_by("created_at", "id"):
        reviews.setdefault(review.brief_id, []).append(review)
    # Only the reported jobs' posts (a window must not read the rest), chosen by a subquery:
    # a list of every job's id would outgrow a query's parameters in a large report.
    engagement = engagement_totals(
        Publication.objects.filter(revision__draft__job_id__in=evaluations.values("draft__job_id")),
        by="revision__draft__job_id")
    jobs_by_brief: dict[int, list[GenerationJob]] = {}
    for evaluation in best.values():
        jobs_by_brief.setdefault(evaluation.draft.brief_id, []).append(evaluation.draft.job)
    rows = []
    for job_id, evaluation in best.items():
        job, brief = evaluation.draft.job, evaluation.draft.brief
        later = [j.created_at for j in jobs_by_brief[brief.pk] if j.created_at > job.created_at]
        until = min(later) if later else None
        finished = job.finished_at
        decided = next((r for r in reviews.get(brief.pk, []) if finished is not None
                        and r.created_at >= finished and (until is None or r.created_at < until)),
                       None)
        gate = getattr(job, "gate_decision", None)
        rows.append({
            "job_id": job_id, "brief_id": brief.pk, "workspace_id": brief.workspace_id,
            "content_type": brief.content_type.name, "best_draft_id": evaluation.draft_id,
            "finished_at": job.finished_at,
            **{name: _metric(evaluation, name) for name in REPORT_METRICS},
            "gate_decision": gate.decision if gate else "",
            "gate_passed": gate.passed if gate else None,
            "reviewer_decision": decided.decision if decided else "",
            "engagement": engagement.get(job_id),
        })
    return rows


def _metric(evaluation: Evaluation, name: str) -> float | None:
    value = getattr(evaluation, name, None) if name in ("score", "relevance", "length_fit") \
        else evaluation.metrics.get(name)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def published_texts(*, workspace_id: int, min_engagement: int = 0) -> list[str]:
    """The texts the workspace published, oldest first, weighted by how the audience received
    them: fine-tuning data. Two queries.

    Engagement is a revision's total over its posts (`engagement_totals`: likes + shares +
    replies + clicks + signups + paid conversions). With `min_engagement` above 0 the texts
    below it are left out, and so are those without engagement data (not shown to reach it).
    Of the texts kept that have engagement data, the top quarter by engagement (rounded up,
    ties with the last of it included, more than 0) appear twice in a row, so that the model
    sees them twice as often; every other text appears once.
    """
    revisions = list(
        DraftRevision.objects.filter(publications__workspace_id=workspace_id,
                                     publications__state=PublicationState.PUBLISHED)
        .distinct().order_by("id").values_list("pk", "text")
    )
    totals = engagement_totals(Publication.objects.filter(workspace_id=workspace_id),
                               by="revision_id")
    kept = [(text, totals.get(pk)) for pk, text in revisions]
    if min_engagement:
        kept = [(text, total) for text, total in kept
                if total is not None and total >= min_engagement]
    texts: list[str] = []
    for (text, _), repeats in zip(kept, engagement_weights([t for _, t in kept]), strict=True):
        texts += [text] * repeats
    return texts


def engagement_weights(totals: Sequence[int | None]) -> list[int]:
    """How often each text should be seen in training, given its engagement total (None: no
    data): the top quarter by engagement of those with data (rounded up, ties with the last
    of it included, more than 0) twice, every other text once."""
    measured = sorted((total for total in totals if total is not None), reverse=True)
    top = max(measured[math.ceil(len(measured) / 4) - 1], 1) if measured else math.inf
    return [2 if total is not None and total >= top else 1 for total in totals]
