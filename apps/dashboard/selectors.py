"""Reads behind the dashboard pages, each a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, F, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from apps.accounts.models import Membership
from apps.accounts.roles import CAN_REVIEW
from apps.briefs.models import BriefState, ContentBrief, ContentType
from apps.core.errors import NotFound
from apps.core.models import AuditEvent
from apps.evaluation.models import Evaluation, GateDecision
from apps.generation.models import Draft, GenerationJob
from apps.publishing.models import Publication, PublishingTarget
from apps.reviews.diff import word_diff
from apps.reviews.models import (
    ApprovalPolicy,
    Decision,
    DraftRevision,
    EditLock,
    Review,
    ReviewAssignment,
    ReviewComment,
)
from apps.reviews.services import approval_policy_for

# The queue shows every brief still moving, and finished ones of the last week:
# older finished work is the admin's (searchable, paginated) business.
FINISHED_STATES = (BriefState.PUBLISHED, BriefState.REJECTED, BriefState.CANCELLED)
FINISHED_SHOWN_FOR = timedelta(days=7)
# Column order on the queue page: the pipeline's own order.
QUEUE_ORDER = (
    BriefState.DRAFT, BriefState.QUEUED, BriefState.GENERATING, BriefState.IN_REVIEW,
    BriefState.CHANGES_REQUESTED, BriefState.APPROVED, BriefState.SCHEDULED,
    BriefState.PUBLISHED, BriefState.FAILED, BriefState.REJECTED, BriefState.CANCELLED,
)


# A column shows its first cards; the count says how many there are in all (the
# table view pages through the rest). 12 a column keeps the page near 300 ms at
# 100,000 briefs: rendering 50 cards in each of 11 columns took over a second.
COLUMN_LIMIT = 12
FINISHED_COUNT_CAP = 1000
TABLE_PAGE_SIZE = 50
DUE_SOON = timedelta(hours=24)
QUEUE_ORDERING = (F("priority").desc(), F("due_at").asc(nulls_last=True), F("created_at").asc(),
                  F("id").asc())


class Shown:
    """A row as a page shows it: what the page computed for it, and otherwise the row's
    own attributes (templates read both alike)."""

    row: Any

    def __getattr__(self, name: str) -> Any:
        if name == "row" or name.startswith("__"):  # not set yet (copying, unpickling)
            raise AttributeError(name)
        return getattr(self.row, name)

    def __str__(self) -> str:
        return str(self.row)


@dataclass
class BriefCard(Shown):
    row: ContentBrief
    due_flag: str  # "overdue", "due-soon" or ""


@dataclass
class QueueColumn:
    state: str
    label: str
    count: int = 0
    briefs: list[BriefCard] = field(default_factory=list)
    capped: bool = False  # there are at least `count`


@dataclass(frozen=True)
class QueueFilters:
    """What the queue is narrowed to; empty values filter nothing."""

    content_type_id: int | None = None
    target_id: int | None = None
    assignee_id: int | None = None  # 0: nobody assigned
    due: str = ""  # "overdue", "soon" (within DUE_SOON) or "none"
    min_score: float | None = None
    origin: str = ""
    q: str = ""


def _filtered(workspace_id: int, filters: QueueFilters) -> QuerySet[ContentBrief]:
    briefs = ContentBrief.objects.filter(workspace_id=workspace_id)
    now = timezone.now()
    if filters.content_type_id:
        briefs = briefs.filter(content_type_id=filters.content_type_id)
    if filters.target_id:
        briefs = briefs.filter(pk__in=Publication.objects.filter(
            target_id=filters.target_id).values("brief_id"))
    if filters.assignee_id == 0:
        briefs = briefs.filter(assignment__isnull=True)
    elif filters.assignee_id:
        briefs = briefs.filter(assignment__reviewer_id=filters.assignee_id)
    if filters.due == "overdue":
        briefs = briefs.filter(due_at__lt=now)
    elif filters.due == "soon":
        briefs = briefs.filter(due_at__gte=now, due_at__lt=now + DUE_SOON)
    elif filters.due == "none":
        briefs = briefs.filter(due_at__isnull=True)
    if filters.min_score is not None:
        briefs = briefs.filter(pk__in=Draft.objects.filter(
            evaluation__score__gte=filters.min_score).values("brief_id"))
    if filters.origin:
        briefs = briefs.filter(origin=filters.origin)
    if filters.q:
        briefs = briefs.filter(Q(title__icontains=filters.q) | Q(topic__icontains=filters.q))
    return briefs


def _with_latest_job(briefs: QuerySet[ContentBrief]) -> QuerySet[ContentBrief]:
    """Cards' extras as subqueries: the latest job, the best score and the assignee."""
    latest = GenerationJob.objects.filter(brief=OuterRef("pk")).order_by("-id")
    best = Evaluation.objects.filter(draft__brief=OuterRef("pk")).order_by("-score")
    return briefs.select_related("content_type", "assignment__reviewer").annotate(
        latest_job_id=Subquery(latest.values("id")[:1]),
        latest_job_state=Subquery(latest.values("state")[:1]),
        best_score=Subquery(best.values("score")[:1]),
    )


def _cards(briefs: QuerySet[ContentBrief]) -> list[BriefCard]:
    now = timezone.now()
    return [BriefCard(row=brief, due_flag=(
        "" if brief.due_at is None or brief.state in FINISHED_STATES else
        "overdue" if brief.due_at < now else
        "due-soon" if brief.due_at < now + DUE_SOON else "")) for brief in briefs]


def queue_columns(*, workspace_id: int, filters: QueueFilters | None = None,
                  limit: int = COLUMN_LIMIT) -> list[QueueColumn]:
    """The workspace's briefs by state, in pipeline order, highest priority first, each column
    its first `limit` cards and its count: at most 2 + two queries per state, whatever
    the number of briefs."""
    recent = timezone.now() - FINISHED_SHOWN_FOR
    briefs = _filtered(workspace_id, filters or QueueFilters())
    shown = briefs.filter(~Q(state__in=FINISHED_STATES) | Q(updated_at__gte=recent))
    columns: dict[str, QueueColumn] = {
        state: QueueColumn(state=state, label=BriefState(state).label) for state in QUEUE_ORDER}
    # Active states are counted from the (workspace, state, …) index alone; a finished
    # state also needs each row's updated_at, so its count stops at FINISHED_COUNT_CAP
    # (counting 27,000 finished briefs cost 115 ms of the page at 100,000 briefs).
    active = briefs.exclude(state__in=FINISHED_STATES)
    for state, count in active.values_list("state").annotate(n=Count("id")).order_by():
        columns[state].count = count
    for state in FINISHED_STATES:
        column = columns[state]
        column.count = shown.filter(state=state)[:FINISHED_COUNT_CAP].count()
        column.capped = column.count == FINISHED_COUNT_CAP
    # Each column's first ids from the (workspace, state, priority) index, one query per
    # non-empty state: ranking all states at once with a window function sorted every
    # shown brief (1.4 s at 100,000 on SQLite); this way the sort stays within one state.
    ids: list[int] = []
    for column in columns.values():
        if column.count:
            ids += shown.filter(state=column.state).order_by(*QUEUE_ORDERING
                                                            ).values_list("id", flat=True)[:limit]
    cards = _with_latest_job(ContentBrief.objects.filter(pk__in=ids)).order_by(*QUEUE_ORDERING)
    for card in _cards(cards):
        columns[card.row.state].briefs.append(card)
    return list(columns.values())


def queue_table(*, workspace_id: int, filters: QueueFilters | None = None, page: int = 1
                ) -> Page[BriefCard]:
    """One page of the workspace's briefs, every state, in queue order: three queries (count,
    the page's ids, then the page's cards with their extras)."""
    ids = _filtered(workspace_id, filters or QueueFilters()).order_by(*QUEUE_ORDERING)
    paginator = Paginator(ids.values_list("id", flat=True), TABLE_PAGE_SIZE)
    result = paginator.get_page(page)
    cards = _with_latest_job(ContentBrief.objects.filter(pk__in=list(result.object_list)))
    # The same page, its ids read as cards (the paginator counts and slices ids only).
    return Page(_cards(cards.order_by(*QUEUE_ORDERING)), result.number, paginator)  # type: ignore[arg-type]  # a page of cards over a paginator of ids


def queue_card(*, workspace_id: int, brief_id: int) -> BriefCard:
    cards = _cards(_with_latest_job(
        ContentBrief.objects.filter(workspace_id=workspace_id, pk=brief_id)))
    if not cards:
        raise NotFound("No such brief in this workspace.")
    return cards[0]


def queue_filter_options(*, workspace_id: int) -> dict[str, list[tuple[int, str]]]:
    """The choices of the queue's filters: content types, targets and reviewers."""
    return {
        "content_types": list(ContentType.objects.filter(workspace_id=workspace_id)
                              .order_by("name").values_list("id", "name")),
        "targets": list(PublishingTarget.objects.filter(workspace_id=workspace_id)
                        .order_by("name").values_list("id", "name")),
        "reviewers": reviewers(workspace_id=workspace_id),
    }


def targets_enabled(*, workspace_id: int) -> list[PublishingTarget]:
    """Where a reviewer may publish an approval to."""
    return list(PublishingTarget.objects.filter(workspace_id=workspace_id, enabled=True)
                .order_by("name", "id"))


@dataclass
class DraftCard(Shown):
    """A draft as the review screen shows it: the text a reviewer would approve (its newest
    revision) and that text's scores, its diff against the model's text, who holds its edit
    lock, the approvals that still count, and the page's edit form and previews."""

    row: Draft
    current_text: str
    revision_number: int
    scored_by: Any  # the newest revision's evaluation, else the model text's; None meanwhile
    diff: list[Any] = field(default_factory=list)
    lock: EditLock | None = None
    approvals: list[Review] = field(default_factory=list)
    edit_form: Any = None
    previews: list[Any] = field(default_factory=list)


@dataclass
class CommentThread(Shown):
    row: ReviewComment
    thread: list[CommentThread]  # its replies, oldest first


@dataclass
class BriefPage:
    brief: ContentBrief
    jobs: list[GenerationJob]
    drafts: list[DraftCard]  # the latest round's, best score first
    earlier_drafts: list[DraftCard]
    publications: list[Publication]
    reviews: list[Review]
    audit: list[AuditEvent]
    targets: list[PublishingTarget]
    comments: list[CommentThread]  # top-level
    assignment: ReviewAssignment | None
    policy: ApprovalPolicy
    reviewers: list[tuple[int, str]]  # who may be assigned: (user id, username)
    gate: GateDecision | None  # the quality gate's latest decision: reasons, risks, group


def _score(draft: Draft | DraftCard) -> float:
    evaluation = getattr(draft, "evaluation", None)
    return evaluation.score if evaluation is not None else float("-inf")


def reviewers(*, workspace_id: int) -> list[tuple[int, str]]:
    """Who may be assigned a review: (user id, username), by name."""
    return list(Membership.objects.filter(workspace_id=workspace_id, role__in=CAN_REVIEW)
                .order_by("user__username").values_list("user_id", "user__username"))


def _comment_threads(brief: ContentBrief) -> list[CommentThread]:
    comments = list(ReviewComment.objects.filter(brief=brief).select_related("author"))
    by_parent: dict[int | None, list[ReviewComment]] = {}
    for comment in comments:
        by_parent.setdefault(comment.parent_id, []).append(comment)

    def attach(comment: ReviewComment) -> CommentThread:
        return CommentThread(row=comment,
                             thread=[attach(reply) for reply in by_parent.get(comment.pk, [])])

    return [attach(c) for c in by_parent.get(None, [])]


def _annotate_review_state(drafts: list[DraftCard], reviews: list[Review], language: str
                           ) -> None:
    """Per draft: the word diff of its newest revision against the model's text, who holds
    its edit lock, and the approvals that still count."""
    now = timezone.now()
    locks = {lock.draft_id: lock for lock in EditLock.objects.filter(
        draft__in=[d.row for d in drafts], expires_at__gt=now).select_related("holder")}
    for draft in drafts:
        draft.diff = (word_diff(draft.text, draft.current_text, language=language)
                      if draft.revision_number > 1 else [])
        draft.lock = locks.get(draft.pk)
        draft.approvals = [r for r in reviews if r.decision == Decision.APPROVE
                           and not r.superseded and r.revision is not None
                           and r.revision.draft_id == draft.pk]


def brief_page(*, workspace_id: int, brief_id: int, audit_limit: int = 200) -> BriefPage:
    """Everything the brief page shows, in a fixed number of queries whatever the number
    of drafts, comments and reviews."""
    brief = (
        ContentBrief.objects.select_related("content_type", "style_guide", "created_by")
        .filter(workspace_id=workspace_id, pk=brief_id).first()
    )
    if brief is None:
        raise NotFound("No such brief in this workspace.")
    jobs = list(brief.jobs.select_related("model_profile").order_by("-id"))
    rows = list(
        brief.drafts.select_related("evaluation")
        .prefetch_related(Prefetch("revisions", queryset=DraftRevision.objects.order_by("-number")
                                   .select_related("evaluation"), to_attr="revisions_newest_first"))
        .order_by("-job_id", "variant")
    )
    drafts = []
    for row in rows:
        # What a reviewer approves is the newest revision (an edit, or the model's text).
        newest = row.revisions_newest_first[0] if row.revisions_newest_first else None
        number = newest.number if newest else 1
        drafts.append(DraftCard(
            row=row, current_text=newest.text if newest else row.text, revision_number=number,
            # The scores of the text a reviewer would approve: an edit's once it is scored
            # (None meanwhile), else the model's text's.
            scored_by=(getattr(newest, "evaluation", None) if number > 1
                       else getattr(row, "evaluation", None))))
    latest_job_id = drafts[0].job_id if drafts else None
    current = sorted((d for d in drafts if d.job_id == latest_job_id), key=_score, reverse=True)
    publications = list(brief.publications.select_related("target", "revision").order_by("id"))
    reviews = list(brief.reviews.select_related("reviewer", "revision"))
    subjects = (
        Q(subject_type="contentbrief", subject_id=brief.pk)
        | Q(subject_type="generationjob", subject_id__in=[j.pk for j in jobs])
        | Q(subject_type="draft", subject_id__in=[d.pk for d in drafts])
        | Q(subject_type="publication", subject_id__in=[p.pk for p in publications])
    )
    audit = list(AuditEvent.objects.filter(subjects, workspace_id=workspace_id)
                 .select_related("actor")[:audit_limit])
    targets = targets_enabled(workspace_id=workspace_id)
    _annotate_review_state(current, reviews, brief.language)
    return BriefPage(
        brief=brief, jobs=jobs, drafts=current,
        earlier_drafts=[d for d in drafts if d.job_id != latest_job_id],
        publications=publications, reviews=reviews, audit=audit, targets=targets,
        comments=_comment_threads(brief),
        assignment=ReviewAssignment.objects.filter(brief=brief).select_related("reviewer").first(),
        policy=approval_policy_for(brief.content_type_id),
        reviewers=reviewers(workspace_id=workspace_id),
        gate=GateDecision.objects.filter(brief=brief).order_by("-id").first(),
    )
