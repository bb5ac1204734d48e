"""Notifications: failures, the dashboard list, marking read, email after commit only."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from apps.accounts.models import Role
from apps.core.models import OutboxEvent
from apps.core.pipeline import next_step
from apps.core.services import REACTIONS
from apps.generation.services import job_fail
from apps.notifications.models import Kind, Notification
from apps.notifications.tasks import brief_failed, publication_failed
from apps.publishing.models import Publication
from apps.publishing.targets import target_create
from apps.reviews.services import assignment_set, comment_add
from apps.workflow.services import review_approve
from tests import factories

pytestmark = pytest.mark.django_db


def test_a_failed_generation_notifies_the_author_with_the_reason(ws, eddie):
    brief = factories.brief(ws, title="Broken", submit=True, created_by=eddie)
    job_fail(job_id=brief.jobs.get().pk, error="CUDA out of memory")
    assert brief_failed(brief.pk) == 1
    assert list(Notification.objects.values_list("user__username", "kind", "message")) == [
        ("eddie", Kind.FAILURE, "Generation of “Broken” failed: CUDA out of memory")]


def test_a_redelivered_failure_message_notifies_and_mails_once(ws, eddie,
                                                              django_capture_on_commit_callbacks):
    # given a failed generation whose brief.failed event was relayed
    brief = factories.brief(ws, title="Broken", submit=True, created_by=eddie)
    job_fail(job_id=brief.jobs.get().pk, error="CUDA out of memory")
    event = OutboxEvent.objects.get(type="brief.failed", subject_id=brief.pk)
    # when the broker delivers the task's message twice
    with django_capture_on_commit_callbacks(execute=True):
        first = brief_failed(brief.pk, event.pk)
    with django_capture_on_commit_callbacks(execute=True):
        second = brief_failed(brief.pk, event.pk)
    # then one row and one mail; a later failure (another event) notifies again
    assert (first, second) == (1, 0)
    assert Notification.objects.filter(event_id=event.pk).count() == 1
    assert [m.to for m in mail.outbox] == [["eddie@example.org"]]
    assert brief_failed(brief.pk, event.pk + 1000) == 1


def test_notification_steps_get_the_event_that_caused_them():
    assert next_step("brief.failed", 7, {}, event_id=42) == (
        "notifications.brief_failed", [7, 42], {})
    assert next_step("publication.failed", 8, {}, event_id=43) == (
        "notifications.publication_failed", [8, 43], {})
    assert next_step("job.queued", 9, {"queue": "gpu-a100"}, event_id=44) == (
        "generation.run_job", [9], {"queue": "gpu-a100"})


def test_a_failed_publication_notifies_the_author_and_the_approver(ws, eddie):
    rita = factories.member(ws, Role.REVIEWER, username="rita")
    target_create(workspace=ws, name="Site", kind="file", config={"folder": "site"})
    brief = factories.brief_in_review(ws, title="Out", created_by=eddie)
    review_approve(brief=brief, draft_id=brief.drafts.first().pk, reviewer=rita)
    Notification.objects.all().delete()
    publication = Publication.objects.get(brief=brief)
    Publication.objects.filter(pk=publication.pk).update(last_error="HTTP 503 from the CMS")
    assert publication_failed(publication.pk) == 2
    assert sorted(Notification.objects.values_list("user__username", "message")) == [
        ("eddie", "Publishing “Out” to Site failed: HTTP 503 from the CMS"),
        ("rita", "Publishing “Out” to Site failed: HTTP 503 from the CMS")]


def test_the_email_goes_only_once_the_assignment_commits(ws, eddie,
                                                         django_capture_on_commit_callbacks):
    # rita joins once the brief is in review, so the assignment is all she hears of
    brief = factories.brief_in_review(ws, title="Mine")
    rita = factories.member(ws, Role.REVIEWER, username="rita")
    rita.email = "rita@example.org"
    rita.save(update_fields=["email"])
    # While the transaction is open the row exists, the email does not
    with django_capture_on_commit_callbacks(execute=False) as pending:
        assignment_set(brief=brief, reviewer_id=rita.pk, assigned_by=eddie)
    assert (Notification.objects.get().user, mail.outbox) == (rita, [])
    # Once it commits, the email goes out
    for callback in pending:
        callback()
    assert [(m.to, m.subject) for m in mail.outbox] == [
        (["rita@example.org"], "[AIGC] “Mine” is yours to review, rita.")]


def test_the_page_lists_then_marks_read(ws, eddie):
    brief = factories.brief_in_review(ws, title="Yours")
    rita = factories.member(ws, Role.REVIEWER, username="rita")  # joins after it reached review
    assignment_set(brief=brief, reviewer_id=rita.pk, assigned_by=eddie)
    client = Client()
    client.force_login(rita)
    page = client.get("/notifications/")
    assert page.status_code == 200
    assert [n.message for n in page.context["notes"]] == ["“Yours” is yours to review, rita."]
    assert page.context["unread"] == 1
    client.post("/notifications/read/")
    assert client.get("/notifications/").context["unread"] == 0


def test_a_member_changes_their_password(ws, eddie):
    client = Client()
    client.force_login(eddie)
    form = client.get("/accounts/password_change/")
    assert form.status_code == 200
    assert b'<label for="id_old_password">' in form.content
    done = client.post("/accounts/password_change/", {
        "old_password": "pw-123456!", "new_password1": "a-Much-longer-one-42",
        "new_password2": "a-Much-longer-one-42"}, follow=True)
    assert done.redirect_chain[-1][0] == "/accounts/password_change/done/"
    eddie.refresh_from_db()
    assert eddie.check_password("a-Much-longer-one-42")


def test_review_notifications_are_reactions_keyed_by_their_event(ws, eddie):
    # Given a brief of eddie's in review, then a reviewer who approves it and one who is
    # mentioned (they join after it reached review: its arrival is not what this test counts)
    brief = factories.brief_in_review(ws, title="Compost", created_by=eddie)
    rita = factories.member(ws, Role.REVIEWER, username="rita")
    factories.member(ws, Role.REVIEWER, username="sam")
    draft = brief.drafts.first()
    review_approve(brief=brief, draft_id=draft.pk, reviewer=rita)
    comment_add(brief=brief, author=rita, body="Done, @sam have a look")
    # Then the author heard of the approval and sam of the mention, each from its event
    approval = OutboxEvent.objects.get(type="review.approve")
    mention = OutboxEvent.objects.get(type="comment.added")
    assert set(Notification.objects.values_list("user__username", "kind", "event_id",
                                                "message")) == {
        ("eddie", Kind.DECISION, approval.pk, "rita approved “Compost”."),
        ("sam", Kind.MENTION, mention.pk, "rita mentioned you on “Compost”."),
    }
    # When the reactions run again for the same events (a crash replayed them)
    for event in (approval, mention):
        for reaction in REACTIONS[event.type]:
            reaction(event, None, "")
    # Then nobody is notified twice
    assert Notification.objects.count() == 2
