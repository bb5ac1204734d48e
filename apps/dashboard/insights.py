"""The numbers behind the insights page and its JSON twin, over a recent window.

Each figure is one aggregate query, except time-in-state, which walks the briefs'
transition audit entries (already ordered by the database) in Python: a median
and a p90 per state are not portable SQL aggregates (SQLite has neither); and the
gate's agreement with reviewers, the evaluation report's rows (three queries)
counted per week. Days and weeks are the current (the user's) time zone's.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from apps.briefs.models import ContentBrief
from apps.core.models import AuditEvent
from apps.evaluation.models import Evaluation
from apps.evaluation.report import agreement_by_week
from apps.generation.models import GenerationJob
from apps.publishing.models import Publication, PublicationState
from apps.publishing.selectors import engagement_totals, gate_report_rows
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


def _rounded(share: float | None) -> float | None:
    return None if share is None else round(share, 3)


def _share(part: int, whole: int | None) -> float | None:
    return _rounded(part / whole) if whole else None


def gate_agreement_weekly(workspace_id: int, since: datetime) -> list[dict[str, Any]]:
    """Per week (its Monday, in the current zone) of jobs that finished in the window: the
    jobs a reviewer judged after the gate, and how often the two agreed (see
    apps.evaluation.report.GateAgreement)."""
    rows = [{**row, "finished_at": timezone.localtime(row["finished_at"])}
            for row in gate_report_rows(workspace_id=workspace_id, finished_since=since)]
    weekly = []
    for week, counts in agreement_by_week(rows):
        year, number = week.split("-W")
        weekly.append({
            "week": date.fromisocalendar(int(year), int(number), 1).isoformat(),
            "reviewed": counts.reviewed,
            "agreement": _rounded(counts.agreement),
            "precision": _rounded(counts.precision),
            "recall": _rounded(counts.recall),
        })
    return weekly


def engagement(workspace_id: int, since: datetime) -> dict[str, list[dict[str, Any]]]:
    """What the window's publications drew (see `engagement_totals`), per target and per
    content type, by name; those without engagement data are left out. Two queries."""
    published = Publication.objects.filter(workspace_id=workspace_id, created_at__gte=since)
    return {key: [{"name": name, "engagement": total} for name, total in sorted(
                engagement_totals(published, by=by).items())]
            for key, by in (("per_target", "target__name"),
                            ("per_content_type", "brief__content_type__name"))}


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
        "approval_rate": _share(decisions.get(Decision.APPROVE, 0), decided),
        "time_in_state": time_in_state(workspace_id, since),
        "generation_cost": [{**r, "tokens": (r["prompt_tokens"] or 0) + (r["completion_tokens"] or 0)}
                            for r in cost],
        "score_distribution": {"bins": [round(i / SCORE_BINS, 2) for i in range(SCORE_BINS)],
                               "counts": bins, "drafts": len(scores)},
        "publication_success": [
            {**r, "success_rate": _share(r["published"], r["published"] + r["failed"])}
            for r in publications],
        "engagement": engagement(workspace_id, since),
        "gate_agreement": gate_agreement_weekly(workspace_id, since),
    }
