"""Reviewers hear when a brief enters their review queue: a reaction to `brief.in_review`,
keyed by that event, so an event handled twice notifies once."""

from __future__ import annotations

import pytest

from apps.accounts.models import Role
from apps.core.models import OutboxEvent
from apps.notifications.models import Kind, Notification
from apps.notifications.reactions import on_review_arrived
from apps.reviews.models import ApprovalPolicy
from apps.reviews.services import assignment_set, review_arrived
from apps.workflow.services import review_request_changes
from tests import factories

pytestmark = pytest.mark.django_db


def heard() -> set[tuple[str, str, int | None]]:
    return set(Notification.objects.filter(kind=Kind.ASSIGNMENT)
               .values_list("user__username", "message", "event_id"))


def test_with_nobody_assigned_the_reviewers_hear_once(ws, eddie):
    # Given two reviewers and an admin
    for username, role in (("rita", Role.REVIEWER), ("sam", Role.REVIEWER), ("ada", Role.ADMIN)):
        factories.member(ws, role, username=username)
    # When eddie's brief reaches review
    brief = factories.brief_in_review(ws, title="Compost", created_by=eddie)
    # Then each reviewer (not the admin, nor the author) hears of it, from its event
    arrived = OutboxEvent.objects.get(type="brief.in_review", subject_id=brief.pk)
    assert heard() == {("rita", "“Compost” is waiting for review.", arrived.pk),
                       ("sam", "“Compost” is waiting for review.", arrived.pk)}
    # and handling the event again (a replay) notifies nobody twice
    on_review_arrived(arrived, None, "")
    assert Notification.objects.count() == 2


def test_a_workspace_without_reviewers_tells_its_admins(ws, eddie):
    factories.member(ws, Role.ADMIN, username="ada")
    factories.brief_in_review(ws, title="Compost", created_by=eddie)
    assert {(user, message) for user, message, _ in heard()} == {
        ("ada", "“Compost” is waiting for review.")}


def test_the_assigned_reviewer_alone_hears_the_next_round(ws, eddie):
    # Given a brief in review assigned to rita, who requests changes
    rita = factories.member(ws, Role.REVIEWER, username="rita")
    factories.member(ws, Role.REVIEWER, username="sam")
    brief = factories.brief_in_review(ws, title="Compost", created_by=eddie)
    assignment_set(brief=brief, reviewer_id=rita.pk)
    review_request_changes(brief=brief, reviewer=rita, feedback="Shorter, please.")
    Notification.objects.all().delete()
    # When the next round is written and scored
    factories.job_written_and_scored(brief.jobs.order_by("-id").first(), (0.9, 0.7))
    # Then only rita hears that it is back in her queue
    assert {(user, message) for user, message, _ in heard()} == {
        ("rita", "“Compost” is in your review queue.")}


def test_round_robin_tells_only_the_reviewer_it_assigns(ws, eddie):
    # Given a content type whose briefs are assigned in turn
    factories.member(ws, Role.REVIEWER, username="rita")
    factories.member(ws, Role.REVIEWER, username="sam")
    ct = factories.content_type(ws)
    ApprovalPolicy.objects.create(content_type=ct, round_robin=True)
    # When a brief reaches review, nobody is told yet: the assignment comes right after
    brief = factories.brief_in_review(ws, ct=ct, title="Compost", created_by=eddie)
    assert heard() == set()
    # Then the reviewer it goes to hears it is theirs
    assignment = review_arrived(brief_id=brief.pk)
    assert {(user, message) for user, message, _ in heard()} == {
        (assignment.reviewer.username, f"“Compost” is yours to review, {assignment.reviewer.username}.")}
