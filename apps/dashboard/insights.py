"""The numbers behind the insights page and its JSON twin, over a recent window.

Each figure is one aggregate query, except time-in-state, which walks the briefs'
transition audit entries (already ordered by the database) in Python: a median
and a p90 per state are not portable SQL aggregates (SQLite has neither).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import timedelta
from typing import Any

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from apps.briefs.models import ContentBrief
from apps.core.models import AuditEvent
from apps.evaluation.models import Evaluation
from apps.generation.models import GenerationJob
from apps.publishing.models import Publication, PublicationState
from apps.reviews.models import Decision, Review

SCORE_BINS = 10  # over [0, 1]; scores outside are clamped into the end bins
TRANSITIONS_MAX = 50_000  # the newest audit entries considered, so the page stays fast


def _quantile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def time_in_state(workspace_id: int, since: Any) -> dict[str, dict[str, float]]:
    """Seconds briefs spent in each state they left in the window: count, median, p90."""
    rows = (AuditEvent.objects.filter(workspace_id=workspace_id, subject_type="contentbrief",
                                      action__startswith="brief.", created_at__gte=since)
            .exclude(after__state=None).order_by("subject_id", "created_at", "id")
            .values_list("subject_id", "after__state", "created_at")[:TRANSITIONS_MAX])
    spent: dict[str, list[float]] = defaultdict(list)
    previous: tuple[int, str, Any] | None = None
    for subject_id, state, at in rows:
        if previous is not None and previous[0] == subject_id:
            spent[previous[1]].append((at - previous[2]).total_seconds())
        previous = (subject_id, state, at)
    return {state: {"count": len(v), "median_s": round(statistics.median(v), 1),
                    "p90_s": round(_quantile(sorted(v), 0.9), 1)}
            for state, v in sorted(spent.items())}


def insights(*, workspace_id: int, days: int = 30) -> dict[str, Any]:
    since = timezone.now() - timedelta(days=days)
    per_day = (ContentBrief.objects.filter(workspace_id=workspace_id, created_at__gte=since)
               .annotate(day=TruncDate("created_at")).values("day").annotate(n=Count("id"))
               .order_by("day"))
    decisions = dict(Review.objects.filter(brief__workspace_id=workspace_id, created_at__gte=since)
                     .values_list("decision").annotate(n=Count("id")).order_by())
    decided = sum(decisions.values())
    cost = (GenerationJob.objects.filter(workspace_id=workspace_id, created_at__gte=since)
            .values(content_type=F("brief__content_type__name"))
            .annotate(jobs=Count("id"), prompt_tokens=Sum("prompt_tokens"),
                      completion_tokens=Sum("completion_tokens"))
            .order_by("content_type"))
    scores = list(Evaluation.objects.filter(draft__brief__workspace_id=workspace_id,
                                            created_at__gte=since).values_list("score", flat=True))
    bins = [0] * SCORE_BINS
    for score in scores:
        bins[min(SCORE_BINS - 1, max(0, int(score * SCORE_BINS)))] += 1
    publications = (Publication.objects.filter(workspace_id=workspace_id, created_at__gte=since)
                    .values(target_name=F("target__name"))
                    .annotate(published=Count("id", filter=Q(state=PublicationState.PUBLISHED)),
                              failed=Count("id", filter=Q(state=PublicationState.FAILED)),
                              total=Count("id"))
                    .order_by("target_name"))
    return {
        "days": days,
        "briefs_per_day": [{"day": r["day"].isoformat(), "briefs": r["n"]} for r in per_day],
        "decisions": {d.value: decisions.get(d.value, 0) for d in Decision},
        "approval_rate": round(decisions.get(Decision.APPROVE, 0) / decided, 3) if decided else None,
        "time_in_state": time_in_state(workspace_id, since),
        "generation_cost": [{**r, "tokens": (r["prompt_tokens"] or 0) + (r["completion_tokens"] or 0)}
                            for r in cost],
        "score_distribution": {"bins": [round(i / SCORE_BINS, 2) for i in range(SCORE_BINS)],
                               "counts": bins, "drafts": len(scores)},
        "publication_success": [
            {**r, "success_rate": round(r["published"] / (r["published"] + r["failed"]), 3)
             if r["published"] + r["failed"] else None} for r in publications],
    }
