"""Review decisions on a brief's drafts, the draft revisions they act on, and the review
workflow around them: approval policy, edit locks, comments, assignment, guest links."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, OuterRef, Subquery
from django.utils import timezone

from apps.accounts.models import Membership, Role
from apps.accounts.roles import CAN_GOVERN, CAN_REVIEW, CAN_VIEW
from apps.accounts.selectors import actor_require, member_require
from apps.briefs.models import BRIEF_MACHINE, BriefState, ContentBrief
from apps.core.changes import changes_check
from apps.core.errors import DomainError, IllegalTransition, NotFound, PermissionDenied
from apps.core.services import Actor, audit_record, event_emit
from apps.generation.models import Draft
from apps.reviews.models import (
    ApprovalPolicy,
    Decision,
    DraftRevision,
    EditLock,
    GuestLink,
    Review,
    ReviewAssignment,
    ReviewComment,
)

# Long enough to write a paragraph between two saves, short enough that a closed
# tab frees the draft soon; the edit form renews it while open.
LOCK_TTL = timedelta(minutes=2)
GUEST_LINK_SALT = "reviews.guest-link"
MENTION = re.compile(r"(?<![\w@])@([\w.+-]{1,150})")


class EditConflict(DomainError):
    status_code = 409


def revisions_create_initial(*, drafts: Iterable[Draft]) -> None:
    """Revision 1 is the model's text, so every publication points at a revision: one
    insert for all the drafts; a draft that has it keeps it (idempotent)."""
    DraftRevision.objects.bulk_create(
        [DraftRevision(draft=draft, number=1, text=draft.text) for draft in drafts],
        ignore_conflicts=True)


def revision_latest(draft: Draft) -> DraftRevision:
    revision = draft.revisions.order_by("-number").first()
    if revision is None:
        revisions_create_initial(drafts=[draft])
        revision = draft.revisions.get(number=1)
    return revision


def revision_went_out_set(*, revision_id: int, went_out: bool) -> None:
    """Record whether a publication of the revision is scheduled, being sent or published."""
    DraftRevision.objects.filter(pk=revision_id).exclude(went_out=went_out).update(
        went_out=went_out)


def approval_policy_for(content_type_id: int) -> ApprovalPolicy:
    """The content type's policy, else the default: one approval."""
    policy = ApprovalPolicy.objects.filter(content_type_id=content_type_id).first()
    return policy or ApprovalPolicy(content_type_id=content_type_id)


def _live_lock(draft: Draft) -> EditLock | None:
    return EditLock.objects.select_related("holder").filter(
        draft=draft, expires_at__gt=timezone.now()).first()


@transaction.atomic
def draft_lock_acquire(*, draft: Draft, user: Actor) -> EditLock:
    """Take (or renew) the edit lock of a draft in review; EditConflict while another holds it."""
    brief = ContentBrief.objects.get(pk=draft.brief_id)
    user = member_require(user, CAN_REVIEW, brief.workspace_id)
    if brief.state != BriefState.IN_REVIEW:
        raise DomainError("Only a draft in review can be edited.")
    held = _live_lock(draft)
    if held is not None and held.holder_id != user.pk:
        raise EditConflict(f"{held.holder.get_username()} is editing this draft.")
    lock, created = EditLock.objects.update_or_create(
        draft=draft, defaults={"holder": user, "expires_at": timezone.now() + LOCK_TTL})
    if created or held is None:
        event_emit(workspace_id=brief.workspace_id, type="draft.locked", subject=draft,
                   payload={"brief_id": brief.pk, "draft_id": draft.pk,
                            "holder": user.get_username()})
    return lock


@transaction.atomic
def draft_lock_release(*, draft: Draft, user: Actor) -> bool:
    """Free the user's own lock; False when they did not hold it."""
    if not isinstance(user, User):
        return False
    deleted, _ = EditLock.objects.filter(draft=draft, holder_id=user.pk).delete()
    if deleted:
        brief = ContentBrief.objects.get(pk=draft.brief_id)
        event_emit(workspace_id=brief.workspace_id, type="draft.unlocked", subject=draft,
                   payload={"brief_id": brief.pk, "draft_id": draft.pk})
    return bool(deleted)


@transaction.atomic
def revision_edit(*, draft: Draft, text: str, author: Actor,
                  base_revision: int | None = None) -> DraftRevision:
    """Save a reviewer's edit as the next revision; the model's text is kept.

    Refused (EditConflict) while another reviewer holds the draft's edit lock,
    or when `base_revision` (the revision the editor started from) is no longer
    the newest, so two reviewers never overwrite each other. An edit resets the
    approvals given so far on the brief: they approved another text.
    """
    brief = ContentBrief.objects.get(pk=draft.brief_id)
    author = member_require(author, CAN_REVIEW, brief.workspace_id)
    if brief.state != BriefState.IN_REVIEW:
        raise DomainError("Only a draft in review can be edited.")
    if not text.strip():
        raise DomainError("The edited text is empty.")
    held = _live_lock(draft)
    if held is not None and held.holder_id != author.pk:
        raise EditConflict(f"{held.holder.get_username()} is editing this draft.")
    latest = draft.revisions.aggregate(n=Max("number"))["n"] or 0
    if base_revision is not None and base_revision != max(latest, 1):
        raise EditConflict(f"Revision {latest} was saved meanwhile: reload to edit the newest text.")
    number = latest + 1 if latest else 2  # 1 is the model's own text
    if not latest:
        revisions_create_initial(drafts=[draft])
    revision = DraftRevision.objects.create(draft=draft, number=number, text=text, author=author)
    reset = Review.objects.filter(brief=brief, decision=Decision.APPROVE,
                                  superseded=False).update(superseded=True)
    EditLock.objects.filter(draft=draft, holder_id=author.pk).delete()
    audit_record(workspace_id=brief.workspace_id, action="draft.edited", subject=draft,
                 actor=author, before={"revision": number - 1},
                 after={"revision": number, "approvals_reset": reset})
    event_emit(workspace_id=brief.workspace_id, type="draft.edited", subject=draft,
               payload={"brief_id": brief.pk, "draft_id": draft.pk, "revision": number})
    return revision


def reviewable_draft(brief: ContentBrief, draft_id: int) -> Draft:
    draft = Draft.objects.filter(pk=draft_id, brief=brief).first()
    if draft is None:
        raise DomainError("That draft does not belong to this brief.")
    return draft


def decision_record(*, brief: ContentBrief, reviewer: User | None, decision: str, comment: str = "",
                    revision: DraftRevision | None = None, guest_name: str = "",
                    **facts: object) -> Review:
    """A reviewer's (or a named guest's) decision, and `review.<decision>` saying who decided
    and who hears of it (the brief's author, assignee and earlier reviewers), with `facts`
    (an approval's count) for the notifications."""
    audience = decision_audience(brief)
    review = Review.objects.create(brief=brief, revision=revision,
                                   reviewer=reviewer if guest_name == "" else None,
                                   guest_name=guest_name, decision=decision, comment=comment)
    who = guest_name or (reviewer.get_username() if reviewer else "someone")
    event_emit(workspace_id=brief.workspace_id, type=f"review.{decision}", subject=review,
               payload={"brief_id": brief.pk, "review_id": review.pk, "decision": decision,
                        "draft_id": revision.draft_id if revision else None, "by": who,
                        "by_id": getattr(reviewer, "pk", None), "comment": comment,
                        "audience": sorted(i for i in audience if i is not None), **facts})
    return review


def review_open(brief: ContentBrief, to: str) -> ContentBrief:
    """The brief re-read under a row lock, so concurrent decisions queue up; 409 unless in review."""
    current = ContentBrief.objects.select_for_update().get(pk=brief.pk)
    if current.state != BriefState.IN_REVIEW:
        raise BRIEF_MACHINE.refuse(brief.pk, current.state, to)
    return current


def decision_audience(brief: ContentBrief) -> set[int | None]:
    """Who hears of a decision: the brief's author, its assignee and everyone who reviewed it."""
    reviewers = set(Review.objects.filter(brief=brief, reviewer__isnull=False)
                    .values_list("reviewer_id", flat=True))
    assignee = ReviewAssignment.objects.filter(brief=brief).values_list("reviewer_id", flat=True)
    return {brief.created_by_id, *reviewers, *assignee}


@dataclass(frozen=True)
class Approval:
    review: Review
    complete: bool  # the policy's approvals, and one from the required group, are all given


def approval_record(*, brief: ContentBrief, revision: DraftRevision, reviewer: User | None,
                    guest_name: str = "", comment: str = "", required_group: str = "") -> Approval:
    """Record an approval of `revision` on a brief in review (locked by `review_open`):
    complete once the content type's policy has its N approvals (from distinct reviewers if
    it says so) and, when `required_group` names one, one from that group."""
    policy = approval_policy_for(brief.content_type_id)
    standing = Review.objects.filter(brief=brief, decision=Decision.APPROVE, superseded=False,
                                     revision__draft_id=revision.draft_id)
    if (policy.distinct_reviewers and reviewer is not None and not guest_name
            and standing.filter(reviewer_id=reviewer.pk).exists()):
        raise DomainError("You already approved this draft: the policy needs another reviewer.")
    given = standing.count() + 1
    # This approval counts towards the group too: its reviewer may be the member it needs.
    in_group = (standing.filter(reviewer__groups__name=required_group).exists()
                or (reviewer is not None and not guest_name
                    and reviewer.groups.filter(name=required_group).exists()))
    group_missing = bool(required_group) and not in_group
    complete = given >= policy.approvals_required and not group_missing
    review = decision_record(brief=brief, reviewer=reviewer, decision=Decision.APPROVE,
                             comment=comment, revision=revision, guest_name=guest_name,
                             complete=complete, approvals=given,
                             required=policy.approvals_required,
                             group_missing=required_group if group_missing else "")
    if not complete:
        audit_record(workspace_id=brief.workspace_id, action="review.approval_recorded",
                     subject=brief, actor=reviewer, actor_label=guest_name,
                     after={"approvals": given, "required": policy.approvals_required,
                            "group_missing": required_group if group_missing else "",
                            "draft_id": revision.draft_id})
    return Approval(review=review, complete=complete)


def changes_requested_record(*, brief: ContentBrief, reviewer: User, feedback: str) -> Review:
    """A request for changes: approvals given in this round stop counting (the next round
    is another text)."""
    Review.objects.filter(brief=brief, decision=Decision.APPROVE).update(superseded=True)
    return decision_record(brief=brief, reviewer=reviewer, decision=Decision.REQUEST_CHANGES,
                           comment=feedback)


# --- comments ---------------------------------------------------------------


@transaction.atomic
def comment_add(*, brief: ContentBrief, author: Actor, body: str, parent_id: int | None = None,
                draft_id: int | None = None) -> ReviewComment:
    """A comment or a reply; members @mentioned by username are notified."""
    author = member_require(author, CAN_VIEW, brief.workspace_id)
    if not body.strip():
        raise DomainError("The comment is empty.")
    parent = None
    if parent_id is not None:
        parent = ReviewComment.objects.filter(pk=parent_id, brief=brief).first()
        if parent is None:
            raise NotFound("No such comment on this brief.")
        draft_id = parent.draft_id
    draft = reviewable_draft(brief, draft_id) if draft_id is not None else None
    comment = ReviewComment.objects.create(brief=brief, draft=draft, parent=parent, author=author,
                                           body=body.strip())
    names = set(MENTION.findall(body))
    mentioned = Membership.objects.filter(workspace_id=brief.workspace_id,
                                          user__username__in=names).values_list("user_id", flat=True)
    event_emit(workspace_id=brief.workspace_id, type="comment.added", subject=comment,
               payload={"brief_id": brief.pk, "comment_id": comment.pk,
                        "by": author.get_username(), "by_id": author.pk,
                        "mentioned": sorted(mentioned),
                        "reply_to": parent.author_id if parent is not None else None})
    return comment


# --- assignment ---------------------------------------------------------------


@transaction.atomic
def assignment_set(*, brief: ContentBrief, reviewer_id: int, assigned_by: Actor = None,
                   reason: str = "assigned") -> ReviewAssignment:
    """Make `reviewer_id` (a reviewer or admin of the brief's workspace) the brief's reviewer."""
    if assigned_by is not None:
        member_require(assigned_by, CAN_VIEW, brief.workspace_id)
    if not Membership.objects.filter(workspace_id=brief.workspace_id, user_id=reviewer_id,
                                     role__in=CAN_REVIEW).exists():
        raise DomainError("Only a reviewer of this workspace can be assigned.")
    before = ReviewAssignment.objects.filter(brief=brief).values_list("reviewer_id", flat=True).first()
    assignment, _ = ReviewAssignment.objects.update_or_create(
        brief=brief, defaults={"reviewer_id": reviewer_id, "assigned_by": assigned_by
                               if assigned_by is not None and assigned_by.is_authenticated else None,
                               "assigned_at": timezone.now(), "reminded_at": None,
                               "escalated_at": None})
    audit_record(workspace_id=brief.workspace_id, action=f"brief.{reason}", subject=brief,
                 actor=assigned_by, before={"reviewer_id": before},
                 after={"reviewer_id": reviewer_id})
    username = get_user_model().objects.filter(pk=reviewer_id).values_list("username", flat=True)
    event_emit(workspace_id=brief.workspace_id, type="brief.assigned", subject=brief,
               payload={"brief_id": brief.pk, "reviewer_id": reviewer_id,
                        "reviewer": username.first(), "by_id": getattr(assigned_by, "pk", None)})
    return assignment


def reviewer_next_in_turn(*, brief: ContentBrief, exclude_id: int | None = None) -> int | None:
    """Round robin per content type: the reviewer whose last assignment of this type is oldest
    (never assigned first, then by user id). Each reviewer's last one is read from the newest
    end of their assignments (an index walk) rather than by grouping the type's whole history,
    which grew with every brief."""
    latest = (ReviewAssignment.objects.filter(reviewer_id=OuterRef("user_id"),
                                              brief__content_type_id=brief.content_type_id)
              .order_by("-assigned_at").values("assigned_at")[:1])
    reviewers = Membership.objects.filter(workspace_id=brief.workspace_id, role=Role.REVIEWER)
    if exclude_id is not None:
        reviewers = reviewers.exclude(user_id=exclude_id)
    never = datetime.min.replace(tzinfo=timezone.get_current_timezone())
    turns = reviewers.annotate(at=Subquery(latest)).values_list("user_id", "at")
    return min(turns, key=lambda turn: (turn[1] or never, turn[0]), default=(None, None))[0]


@transaction.atomic
def assignment_round_robin(*, brief: ContentBrief, assigned_by: Actor = None
                           ) -> ReviewAssignment | None:
    """Assign the next reviewer in turn; None when the workspace has no reviewer."""
    reviewer_id = reviewer_next_in_turn(brief=brief)
    if reviewer_id is None:
        return None
    return assignment_set(brief=brief, reviewer_id=reviewer_id, assigned_by=assigned_by,
                          reason="assigned_in_turn")


def review_arrived(*, brief_id: int) -> ReviewAssignment | None:
    """A brief reached review: assign it in turn if its content type's policy says so
    and nobody has it yet (idempotent)."""
    brief = ContentBrief.objects.filter(pk=brief_id, state=BriefState.IN_REVIEW).first()
    if brief is None or ReviewAssignment.objects.filter(brief=brief).exists():
        return None
    if not approval_policy_for(brief.content_type_id).round_robin:
        return None
    return assignment_round_robin(brief=brief)


def reviews_sla_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Remind assignees of reviews past their content type's SLA, once; escalate reviews
    past the escalation delay to the policy's contact, else to the next reviewer in turn.

    Idempotent: reminded_at / escalated_at mark what was done; run it from beat.
    """
    now = now or timezone.now()
    done = {"assigned": 0, "reminded": 0, "escalated": 0}
    policies = ApprovalPolicy.objects.exclude(review_sla_hours=None, escalate_after_hours=None,
                                              round_robin=False)
    for policy in policies.select_related("content_type"):
        in_review = ContentBrief.objects.filter(content_type_id=policy.content_type_id,
                                                state=BriefState.IN_REVIEW)
        if policy.round_robin:
            for brief in in_review.filter(assignment__isnull=True):
                done["assigned"] += review_arrived(brief_id=brief.pk) is not None
        assignments = ReviewAssignment.objects.filter(brief__in=in_review).select_related("brief")
        for assignment in assignments:
            age = now - assignment.assigned_at
            if (policy.escalate_after_hours is not None and assignment.escalated_at is None
                    and age >= timedelta(hours=policy.escalate_after_hours)):
                done["escalated"] += _escalate(assignment, policy, now)
            elif (policy.review_sla_hours is not None and assignment.reminded_at is None
                    and age >= timedelta(hours=policy.review_sla_hours)):
                with transaction.atomic():
                    ReviewAssignment.objects.filter(pk=assignment.pk).update(reminded_at=now)
                    event_emit(workspace_id=assignment.brief.workspace_id, type="review.overdue",
                               subject=assignment.brief,
                               payload={"brief_id": assignment.brief_id,
                                        "reviewer_id": assignment.reviewer_id,
                                        "sla_hours": policy.review_sla_hours})
                done["reminded"] += 1
    return done


@transaction.atomic
def _escalate(assignment: ReviewAssignment, policy: ApprovalPolicy, now: datetime) -> bool:
    brief = assignment.brief
    target = policy.escalate_to_id or reviewer_next_in_turn(brief=brief,
                                                            exclude_id=assignment.reviewer_id)
    if target is None:
        return False
    previous = assignment.reviewer_id
    if target != previous and Membership.objects.filter(
            workspace_id=brief.workspace_id, user_id=target, role__in=CAN_REVIEW).exists():
        assignment = assignment_set(brief=brief, reviewer_id=target, reason="escalated")
    ReviewAssignment.objects.filter(pk=assignment.pk).update(escalated_at=now)
    event_emit(workspace_id=brief.workspace_id, type="review.escalated", subject=brief,
               payload={"brief_id": brief.pk, "user_ids": [target, previous],
                        "overdue_hours": policy.escalate_after_hours})
    return True


# --- guest approval -------------------------------------------------------------


@transaction.atomic
def guest_link_create(*, brief: ContentBrief, created_by: Actor, guest_name: str,
                      guest_email: str = "", valid_for: timedelta = timedelta(days=3)
                      ) -> tuple[GuestLink, str]:
    """A single-use link for an outside approver; returns the link and its signed token.

    A guest's decision counts as a review, so only reviewers and admins send one, and never
    for a brief they wrote: an author could otherwise approve their own work as a "guest".
    """
    created_by = member_require(created_by, CAN_REVIEW, brief.workspace_id)
    if created_by is not None and brief.created_by_id == created_by.pk:
        raise PermissionDenied("A brief's author cannot send it to a guest for approval.")
    if brief.state != BriefState.IN_REVIEW:
        raise DomainError("Only a brief in review can be sent to a guest.")
    if not guest_name.strip():
        raise DomainError("Name the guest: their name is recorded with the decision.")
    link = GuestLink.objects.create(brief=brief, guest_name=guest_name.strip(),
                                    guest_email=guest_email, created_by=created_by,
                                    expires_at=timezone.now() + valid_for)
    audit_record(workspace_id=brief.workspace_id, action="brief.guest_link_created", subject=brief,
                 actor=created_by, after={"guest": link.guest_name,
                                          "expires_at": link.expires_at.isoformat()})
    return link, signing.dumps({"link": link.pk}, salt=GUEST_LINK_SALT)


def guest_link_open(*, token: str) -> GuestLink:
    """The link a token names, if its signature holds and it is unexpired and unused."""
    try:
        link_id = signing.loads(token, salt=GUEST_LINK_SALT)["link"]
    except (signing.BadSignature, KeyError, TypeError):
        raise NotFound("This link is not valid.") from None
    link = GuestLink.objects.select_related("brief").filter(pk=link_id).first()
    if link is None:
        raise NotFound("This link is not valid.")
    if link.used_at is not None:
        raise IllegalTransition("This link was already used.")
    if link.expires_at <= timezone.now():
        raise IllegalTransition("This link has expired.")
    return link


@transaction.atomic
def guest_link_spend(*, token: str) -> GuestLink:
    """The link a token names, spent: the first decision takes it (a conditional update
    decides races)."""
    link = guest_link_open(token=token)
    if not GuestLink.objects.filter(pk=link.pk, used_at__isnull=True).update(used_at=timezone.now()):
        raise IllegalTransition("This link was already used.")
    return link


APPROVAL_POLICY_FIELDS = ("approvals_required", "distinct_reviewers", "round_robin",
                          "review_sla_hours", "escalate_after_hours", "escalate_to")


@transaction.atomic
def approval_policy_set(*, content_type_id: int, actor: Actor = None,
                        **fields: object) -> ApprovalPolicy:
    """The content type's approval policy with `fields` (some of APPROVAL_POLICY_FIELDS)
    changed, created when it has none; audited as `approval_policy.set` with what changed.
    The escalation contact must review in the content type's workspace, and escalation
    comes after the reminder."""
    changes_check(fields, APPROVAL_POLICY_FIELDS, rows="Approval policies")
    policy = (ApprovalPolicy.objects.select_for_update().select_related("content_type")
              .filter(content_type_id=content_type_id).first()
              or ApprovalPolicy(content_type_id=content_type_id))
    workspace_id = policy.content_type.workspace_id
    actor_require(actor, CAN_GOVERN, workspace_id)
    before = {name: _policy_value(policy, name) for name in APPROVAL_POLICY_FIELDS}
    for name, value in fields.items():
        setattr(policy, name, value)
    contact = policy.escalate_to_id
    if contact is not None and not Membership.objects.filter(
            user_id=contact, workspace_id=workspace_id, role__in=CAN_REVIEW).exists():
        raise DomainError("The escalation contact must be a reviewer or admin of this workspace.")
    sla, escalate = policy.review_sla_hours, policy.escalate_after_hours
    if sla is not None and escalate is not None and escalate <= sla:
        raise DomainError("Escalate after more hours than the reminder (the review SLA).")
    try:
        policy.full_clean(exclude=["content_type"])
    except ValidationError as exc:
        raise DomainError(" ".join(exc.messages)) from None
    policy.save()
    after = {name: _policy_value(policy, name) for name in APPROVAL_POLICY_FIELDS}
    changed = [name for name in APPROVAL_POLICY_FIELDS if before[name] != after[name]]
    if changed:
        audit_record(workspace_id=workspace_id, action="approval_policy.set", subject=policy,
                     actor=actor, before={n: before[n] for n in changed},
                     after={n: after[n] for n in changed})
    return policy


def _policy_value(policy: ApprovalPolicy, name: str) -> object:
    # The contact by id: audit entries hold JSON values.
    return policy.escalate_to_id if name == "escalate_to" else getattr(policy, name)
