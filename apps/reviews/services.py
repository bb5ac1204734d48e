"""Review decisions on a brief's drafts, and the draft revisions they act on."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import transaction
from django.db.models import Max

from apps.accounts.roles import CAN_REVIEW
from apps.accounts.selectors import workspace_require
from apps.briefs.lifecycle import brief_transition
from apps.briefs.models import BriefState, ContentBrief
from apps.core.errors import DomainError
from apps.core.services import Actor, audit_record, event_emit
from apps.generation.models import Draft
from apps.reviews.models import Decision, DraftRevision, Review


def revision_create_initial(*, draft: Draft) -> DraftRevision:
    """Revision 1 is the model's text, so every publication points at a revision."""
    revision, _ = DraftRevision.objects.get_or_create(
        draft=draft, number=1, defaults={"text": draft.text}
    )
    return revision


def revision_latest(draft: Draft) -> DraftRevision:
    revision = draft.revisions.order_by("-number").first()
    return revision or revision_create_initial(draft=draft)


@transaction.atomic
def revision_edit(*, draft: Draft, text: str, author: Actor) -> DraftRevision:
    """Save a reviewer's edit as the next revision; the model's text is kept."""
    brief = ContentBrief.objects.get(pk=draft.brief_id)
    workspace_require(author, CAN_REVIEW, brief.workspace_id)  # type: ignore[arg-type]
    if brief.state != BriefState.IN_REVIEW:
        raise DomainError("Only a draft in review can be edited.")
    if not text.strip():
        raise DomainError("The edited text is empty.")
    number = (draft.revisions.aggregate(n=Max("number"))["n"] or 0) + 1
    revision = DraftRevision.objects.create(draft=draft, number=number, text=text, author=author)
    audit_record(workspace_id=brief.workspace_id, action="draft.edited", subject=draft,
                 actor=author, after={"revision": number})
    event_emit(workspace_id=brief.workspace_id, type="draft.edited", subject=draft,
               payload={"brief_id": brief.pk, "draft_id": draft.pk, "revision": number})
    return revision


def _reviewable_draft(brief: ContentBrief, draft_id: int) -> Draft:
    draft = Draft.objects.filter(pk=draft_id, brief=brief).first()
    if draft is None:
        raise DomainError("That draft does not belong to this brief.")
    return draft


def _review_create(*, brief: ContentBrief, reviewer: Actor, decision: str, comment: str,
                   revision: DraftRevision | None) -> Review:
    review = Review.objects.create(brief=brief, revision=revision, reviewer=reviewer,
                                   decision=decision, comment=comment)
    event_emit(workspace_id=brief.workspace_id, type=f"review.{decision}", subject=review,
               payload={"brief_id": brief.pk, "review_id": review.pk, "decision": decision,
                        "draft_id": revision.draft_id if revision else None})
    return review


@transaction.atomic
def review_approve(
    *,
    brief: ContentBrief,
    draft_id: int,
    reviewer: Actor,
    comment: str = "",
    target_ids: Sequence[int] | None = None,
    publish_at: datetime | None = None,
) -> Review:
    """in_review → approved, then scheduled on the chosen (default: auto-publish) targets.

    A second approval of the same brief is refused as an illegal transition.
    """
    from apps.publishing.services import publications_schedule

    workspace_require(reviewer, CAN_REVIEW, brief.workspace_id)  # type: ignore[arg-type]
    draft = _reviewable_draft(brief, draft_id)
    revision = revision_latest(draft)
    brief_transition(brief, to=BriefState.APPROVED, actor=reviewer,
                     payload={"draft_id": draft.pk, "revision": revision.number})
    review = _review_create(brief=brief, reviewer=reviewer, decision=Decision.APPROVE,
                            comment=comment, revision=revision)
    publications_schedule(brief=brief, revision=revision, target_ids=target_ids,
                          publish_at=publish_at, actor=reviewer)
    return review


@transaction.atomic
def review_reject(*, brief: ContentBrief, reviewer: Actor, comment: str = "") -> Review:
    workspace_require(reviewer, CAN_REVIEW, brief.workspace_id)  # type: ignore[arg-type]
    brief_transition(brief, to=BriefState.REJECTED, actor=reviewer)
    return _review_create(brief=brief, reviewer=reviewer, decision=Decision.REJECT,
                          comment=comment, revision=None)


@transaction.atomic
def review_request_changes(*, brief: ContentBrief, reviewer: Actor, feedback: str) -> Review:
    """in_review → changes_requested → queued: a new job writes with the feedback in its prompt."""
    from apps.briefs.services import brief_regenerate

    workspace_require(reviewer, CAN_REVIEW, brief.workspace_id)  # type: ignore[arg-type]
    if not feedback.strip():
        raise DomainError("Say what should change: the feedback goes to the model.")
    brief_transition(brief, to=BriefState.CHANGES_REQUESTED, actor=reviewer, feedback=feedback)
    review = _review_create(brief=brief, reviewer=reviewer, decision=Decision.REQUEST_CHANGES,
                            comment=feedback, revision=None)
    brief_regenerate(brief=brief, actor=reviewer)
    return review
