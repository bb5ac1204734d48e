"""The review workflow's services: approval policy, edits under a lock, comments,
assignment, SLAs and guest approval."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail, signing
from django.utils import timezone

from apps.accounts.models import Role
from apps.briefs.models import BriefState
from apps.core.errors import DomainError, IllegalTransition, NotFound, PermissionDenied
from apps.notifications.models import Kind, Notification
from apps.publishing.targets import target_create
from apps.reviews.diff import DiffPiece, word_diff
from apps.reviews.models import ApprovalPolicy, Decision, GuestLink, Review, ReviewAssignment
from apps.reviews.services import (
    EditConflict,
    assignment_round_robin,
    comment_add,
    draft_lock_acquire,
    guest_link_create,
    guest_link_open,
    reviews_sla_sweep,
    revision_edit,
)
from apps.workflow.services import guest_decide, review_approve, review_reject
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def sam(ws):
    return factories.member(ws, Role.REVIEWER, username="sam")


@pytest.fixture
def brief(ws, eddie):
    created = factories.brief_in_review(ws, created_by=eddie)
    target_create(workspace=ws, name="Site", kind="file", config={"folder": "site"})
    return created


def best_draft(brief):
    return brief.drafts.order_by("-evaluation__score").first()


def two_approvals(brief, **policy):
    return ApprovalPolicy.objects.create(content_type=brief.content_type, approvals_required=2,
                                         **policy)


def test_word_diff_marks_added_and_removed_words_and_keeps_the_rest():
    assert word_diff("Start a compost heap today.", "Start a small compost pile today.",
                     language="en") == [
        DiffPiece("same", "Start a "), DiffPiece("added", "small "), DiffPiece("same", "compost "),
        DiffPiece("removed", "heap "), DiffPiece("added", "pile "), DiffPiece("same", "today."),
    ]


def test_a_policy_of_two_needs_two_distinct_reviewers(brief, rita, sam):
    # Given a content type needing two approvals from different reviewers
    two_approvals(brief, distinct_reviewers=True)
    draft = best_draft(brief)
    # When rita approves
    review_approve(brief=brief, draft_id=draft.pk, reviewer=rita, comment="Fine by me.")
    # Then the brief still waits, and rita cannot approve a second time
    brief.refresh_from_db()
    assert brief.state == BriefState.IN_REVIEW
    with pytest.raises(DomainError, match="already approved"):
        review_approve(brief=brief, draft_id=draft.pk, reviewer=rita)
    # When sam approves too
    review_approve(brief=brief, draft_id=draft.pk, reviewer=sam)
    # Then it is approved and scheduled on the auto-publish target, and both comments are kept
    brief.refresh_from_db()
    assert brief.state == BriefState.SCHEDULED
    assert list(Review.objects.filter(brief=brief).order_by("id").values_list(
        "reviewer__username", "comment")) == [("rita", "Fine by me."), ("sam", "")]


def test_the_same_reviewer_counts_twice_when_the_policy_allows_it(brief, rita):
    two_approvals(brief, distinct_reviewers=False)
    draft = best_draft(brief)
    review_approve(brief=brief, draft_id=draft.pk, reviewer=rita)
    review_approve(brief=brief, draft_id=draft.pk, reviewer=rita)
    brief.refresh_from_db()
    assert brief.state == BriefState.SCHEDULED


def test_an_edit_during_review_resets_earlier_approvals(brief, rita, sam):
    # Given one of two approvals given
    two_approvals(brief)
    draft = best_draft(brief)
    review_approve(brief=brief, draft_id=draft.pk, reviewer=rita)
    # When sam edits the text, then approves it
    revision = revision_edit(draft=draft, text="A new text.", author=sam, base_revision=1)
    review_approve(brief=brief, draft_id=draft.pk, reviewer=sam)
    # Then rita's approval no longer counts: the brief waits for another one
    brief.refresh_from_db()
    assert (revision.number, brief.state) == (2, BriefState.IN_REVIEW)
    assert list(Review.objects.filter(brief=brief).order_by("id").values_list(
        "reviewer__username", "superseded")) == [("rita", True), ("sam", False)]
    # and rita approving the edited text completes it
    review_approve(brief=brief, draft_id=draft.pk, reviewer=rita)
    brief.refresh_from_db()
    assert brief.state == BriefState.SCHEDULED


def test_an_edit_lock_keeps_a_second_reviewer_from_overwriting(brief, rita, sam):
    # Given rita editing the draft
    draft = best_draft(brief)
    draft_lock_acquire(draft=draft, user=rita)
    # When sam tries to take the lock or to save
    with pytest.raises(EditConflict, match="rita is editing"):
        draft_lock_acquire(draft=draft, user=sam)
    with pytest.raises(EditConflict, match="rita is editing"):
        revision_edit(draft=draft, text="Sam's text.", author=sam)
    # When rita saves, her lock is freed, and sam's save from the old revision is refused
    revision_edit(draft=draft, text="Rita's text.", author=rita, base_revision=1)
    with pytest.raises(EditConflict, match="Revision 2 was saved meanwhile"):
        revision_edit(draft=draft, text="Sam's text.", author=sam, base_revision=1)
    # and sam editing the newest revision works
    assert revision_edit(draft=draft, text="Sam's text.", author=sam, base_revision=2).number == 3


def test_an_expired_lock_frees_the_draft(brief, rita, sam):
    draft = best_draft(brief)
    lock = draft_lock_acquire(draft=draft, user=rita)
    lock.expires_at = timezone.now() - timedelta(seconds=1)
    lock.save(update_fields=["expires_at"])
    assert draft_lock_acquire(draft=draft, user=sam).holder == sam


def test_comments_thread_and_notify_mentions_and_the_replied_to(
        brief, eddie, rita, sam, django_capture_on_commit_callbacks):
    # When rita comments mentioning eddie, and sam replies
    with django_capture_on_commit_callbacks(execute=True):
        first = comment_add(brief=brief, author=rita, body="@eddie is the intro right?")
    reply = comment_add(brief=brief, author=sam, body="Looks right to me.", parent_id=first.pk)
    # Then the reply hangs under the comment
    assert reply.parent == first
    # and eddie was notified in the dashboard and by email, rita of the reply
    assert list(Notification.objects.order_by("id").values_list("user__username", "kind")) == [
        ("eddie", Kind.MENTION), ("rita", Kind.MENTION)]
    assert [(m.to, m.subject) for m in mail.outbox] == [
        (["eddie@example.org"], "[AIGC] rita mentioned you on “Composting at home”.")]


def test_a_reply_to_another_briefs_comment_is_refused(ws, brief, rita):
    other = factories.brief_in_review(ws)
    comment = comment_add(brief=other, author=rita, body="Hm.")
    with pytest.raises(NotFound):
        comment_add(brief=brief, author=rita, body="Reply", parent_id=comment.pk)


def test_a_rejection_notifies_the_author_and_earlier_approvers(brief, eddie, rita, sam):
    # Given rita's approval of one of two
    two_approvals(brief)
    review_approve(brief=brief, draft_id=best_draft(brief).pk, reviewer=rita)
    Notification.objects.all().delete()
    # When sam rejects
    review_reject(brief=brief, reviewer=sam, comment="Off brand.")
    # Then the author and rita hear of it
    assert sorted(Notification.objects.values_list("user__username", "message")) == [
        ("eddie", "sam rejected “Composting at home”: Off brand."),
        ("rita", "sam rejected “Composting at home”: Off brand."),
    ]


def test_round_robin_takes_reviewers_in_turn_per_content_type(ws, rita, sam):
    ct = factories.content_type(ws)
    # Assigned in turn, briefs reaching review are announced by their assignment alone.
    ApprovalPolicy.objects.create(content_type=ct, round_robin=True)
    briefs = [factories.brief_in_review(ws, ct=ct) for _ in range(3)]
    picked = [assignment_round_robin(brief=b).reviewer.username for b in briefs]
    assert picked == ["rita", "sam", "rita"]
    assert list(Notification.objects.filter(kind=Kind.ASSIGNMENT).values_list(
        "user__username", flat=True).order_by("id")) == ["rita", "sam", "rita"]


def test_the_sla_sweep_reminds_then_escalates_once(brief, rita, sam):
    # Given a 4 h SLA, escalation after 8 h, and rita assigned
    ApprovalPolicy.objects.create(content_type=brief.content_type, review_sla_hours=4,
                                  escalate_after_hours=8)
    ReviewAssignment.objects.create(brief=brief, reviewer=rita,
                                    assigned_at=timezone.now() - timedelta(hours=5))
    # When the sweep runs 5 h after the assignment (twice)
    assert reviews_sla_sweep() == {"assigned": 0, "reminded": 1, "escalated": 0}
    assert reviews_sla_sweep() == {"assigned": 0, "reminded": 0, "escalated": 0}
    # and again 9 h after
    later = timezone.now() + timedelta(hours=4)
    assert reviews_sla_sweep(now=later) == {"assigned": 0, "reminded": 0, "escalated": 1}
    assert reviews_sla_sweep(now=later) == {"assigned": 0, "reminded": 0, "escalated": 0}
    # Then rita was reminded, and the review went to sam, the next in turn
    assert ReviewAssignment.objects.get(brief=brief).reviewer == sam
    assert list(Notification.objects.order_by("id").values_list("user__username", "kind")) == [
        ("rita", Kind.REMINDER), ("sam", Kind.ASSIGNMENT), ("rita", Kind.ESCALATION),
        ("sam", Kind.ESCALATION)]


def test_the_sla_sweep_assigns_unassigned_reviews_when_the_policy_says_round_robin(brief, rita):
    ApprovalPolicy.objects.create(content_type=brief.content_type, round_robin=True)
    assert reviews_sla_sweep() == {"assigned": 1, "reminded": 0, "escalated": 0}
    assert ReviewAssignment.objects.get(brief=brief).reviewer == rita


def test_a_guest_approval_is_a_real_single_use_decision(brief, rita):
    # Given a guest link
    _, token = guest_link_create(brief=brief, created_by=rita, guest_name="Clara Client")
    # When the guest approves the best draft
    review = guest_decide(token=token, decision=Decision.APPROVE, draft_id=best_draft(brief).pk,
                          comment="Go ahead.")
    # Then the decision is recorded under their name and the brief moves on
    brief.refresh_from_db()
    assert (review.guest_name, review.reviewer, review.comment) == (
        "Clara Client (guest)", None, "Go ahead.")
    assert brief.state == BriefState.SCHEDULED
    # and the link cannot be used again
    with pytest.raises(IllegalTransition, match="already used"):
        guest_link_open(token=token)


def test_a_guest_link_expires_and_cannot_be_forged(brief, rita):
    link, token = guest_link_create(brief=brief, created_by=rita, guest_name="Legal",
                                    valid_for=timedelta(seconds=-1))
    with pytest.raises(IllegalTransition, match="expired"):
        guest_link_open(token=token)
    forged = signing.dumps({"link": link.pk}, salt="another-salt")
    with pytest.raises(NotFound):
        guest_link_open(token=forged)
    with pytest.raises(NotFound):
        guest_link_open(token=token + "x")


def test_a_guest_rejection_notifies_the_author(brief, rita):
    _, token = guest_link_create(brief=brief, created_by=rita, guest_name="Legal")
    guest_decide(token=token, decision=Decision.REJECT, comment="Claims unverified.")
    brief.refresh_from_db()
    assert brief.state == BriefState.REJECTED
    assert list(Notification.objects.values_list("user__username", "message")) == [
        ("eddie", "Legal (guest) rejected “Composting at home”: Claims unverified.")]


def test_guest_links_are_sent_by_reviewers_never_by_the_briefs_author(ws, brief, eddie):
    author_admin = factories.member(ws, Role.ADMIN)
    own = factories.brief_in_review(ws, title="Mine", created_by=author_admin)
    with pytest.raises(PermissionDenied, match="allows this"):
        guest_link_create(brief=brief, created_by=eddie, guest_name="Eve")
    with pytest.raises(PermissionDenied, match="author cannot send it to a guest"):
        guest_link_create(brief=own, created_by=author_admin, guest_name="Eve")
    assert not GuestLink.objects.exists()


def test_a_brief_reaching_review_is_assigned_in_turn_once(brief, rita, sam):
    from apps.reviews.tasks import brief_in_review

    ApprovalPolicy.objects.create(content_type=brief.content_type, round_robin=True)
    assert brief_in_review(brief.pk) is True
    assert brief_in_review(brief.pk) is False  # a redelivered event changes nothing
    assert ReviewAssignment.objects.get(brief=brief).reviewer == rita


def test_without_round_robin_a_brief_reaching_review_stays_unassigned(brief, rita):
    from apps.reviews.tasks import brief_in_review

    assert brief_in_review(brief.pk) is False
    assert not ReviewAssignment.objects.exists()


def test_a_gate_naming_a_group_needs_an_approval_from_a_member(ws, brief, rita, sam):
    from django.contrib.auth.models import Group

    from apps.evaluation.models import GateDecision

    # Given the gate asked for Compliance on this brief, and sam is in Compliance
    GateDecision.objects.create(workspace=ws, job=brief.jobs.get(), brief=brief,
                                decision="review", passed=True, reasons=["health claim"],
                                risks=["health claim"], required_group="Compliance")
    sam.groups.add(Group.objects.create(name="Compliance"))
    draft = best_draft(brief)
    # When rita approves, the brief still waits for Compliance
    review_approve(brief=brief, draft_id=draft.pk, reviewer=rita)
    brief.refresh_from_db()
    assert brief.state == BriefState.IN_REVIEW
    assert Notification.objects.get(user__username="eddie").message == (
        "rita approved “Composting at home” (1 of 1 approvals; one from Compliance still needed).")
    # and sam's approval completes it
    review_approve(brief=brief, draft_id=draft.pk, reviewer=sam)
    brief.refresh_from_db()
    assert brief.state == BriefState.SCHEDULED
