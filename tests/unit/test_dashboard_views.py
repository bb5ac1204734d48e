"""Dashboard pages: the queue, the brief form, the brief page and its review decisions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.accounts.models import Role
from apps.accounts.services import membership_grant
from apps.briefs.models import BriefState, ContentBrief, Origin
from apps.publishing.models import Publication, PublicationState
from apps.publishing.targets import target_create
from apps.reviews.models import Decision, Review
from apps.workflow.services import brief_cancel, brief_submit
from tests import factories
from tests.clients import logged_in

pytestmark = pytest.mark.django_db

SCORES = (0.61, 0.87)  # variant 1 is the better one


@pytest.fixture
def outsider():
    """A reviewer, but of another workspace."""
    return factories.member(factories.workspace(), Role.REVIEWER)


@pytest.fixture
def in_review(ws):
    return factories.brief_in_review(ws, scores=SCORES)


@pytest.fixture
def target(ws):
    return target_create(workspace=ws, name="Site", kind="file", config={"folder": "site"})


# --- the queue -------------------------------------------------------------------------


def _queue_queries(client: Client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/")
    assert response.status_code == 200
    return len(queries)


def test_queue_queries_do_not_grow_with_the_number_of_briefs(ws, editor):
    # given 3 briefs, one of them with a job
    ct = factories.content_type(ws)
    for n in range(3):
        factories.brief(ws, ct, title=f"Brief {n}", submit=n == 0)
    client = logged_in(editor)
    with_3 = _queue_queries(client)
    # when there are 30, half of them with jobs
    for n in range(3, 30):
        factories.brief(ws, ct, title=f"Brief {n}", submit=n % 2 == 0)
    with_30 = _queue_queries(client)
    # then the page costs the same number of queries
    print(f"queue page: {with_3} queries with 3 briefs, {with_30} with 30")
    assert with_30 == with_3


def test_queue_groups_briefs_by_state_with_counts(ws, editor):
    # given a draft, two queued briefs and one in review
    factories.brief(ws, title="Still a draft")
    factories.brief(ws, title="Queued low", submit=True, priority=0)
    factories.brief(ws, title="Queued high", submit=True, priority=5)
    factories.brief_in_review(ws, title="Ready to review")
    # when an editor opens the queue
    response = logged_in(editor).get("/")
    # then each state's column holds its briefs, highest priority first
    columns = {c.state: [b.title for b in c.briefs] for c in response.context["columns"]}
    assert columns[BriefState.DRAFT] == ["Still a draft"]
    assert columns[BriefState.QUEUED] == ["Queued high", "Queued low"]
    assert columns[BriefState.IN_REVIEW] == ["Ready to review"]
    assert columns[BriefState.PUBLISHED] == []
    queued = next(c for c in response.context["columns"] if c.state == BriefState.QUEUED)
    assert queued.count == 2
    assert queued.briefs[0].latest_job_state == "queued"
    assert b'data-column="queued"' in response.content
    assert b"dashboard/live.js" in response.content


def test_queue_leaves_out_briefs_finished_over_a_week_ago(ws, editor):
    # given two cancelled briefs, one of them cancelled eight days ago
    recent = factories.brief(ws, title="Cancelled today")
    old = factories.brief(ws, title="Cancelled last week")
    for brief in (recent, old):
        brief_cancel(brief=brief, actor=editor)
    ContentBrief.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(days=8))
    # when the queue is shown
    columns = {c.state: c for c in logged_in(editor).get("/").context["columns"]}
    # then only the recent one is there
    assert [b.title for b in columns[BriefState.CANCELLED].briefs] == ["Cancelled today"]


def test_queue_redirects_anonymous_users_to_login():
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"


def test_login_page_labels_its_inputs():
    response = Client().get("/accounts/login/")
    assert response.status_code == 200
    assert b'<label for="id_username">' in response.content
    assert b'<label for="id_password">' in response.content
    assert b'<button type="submit" class="primary">Log in</button>' in response.content


def test_card_fragment_is_one_brief(ws, reviewer, in_review):
    response = logged_in(reviewer).get(f"/briefs/{in_review.pk}/card/")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.strip().startswith(f'<li class="card" data-brief-id="{in_review.pk}" '
                                   f'data-state="in_review"')
    assert "<html" not in html


# --- the brief form ----------------------------------------------------------------------


def test_editor_creates_a_queued_brief_from_the_form(ws, editor):
    # given a content type of the workspace
    ct = factories.content_type(ws, default_variants=3)
    # when an editor submits the form
    response = logged_in(editor).post("/briefs/new/", {
        "title": "Spring planting", "content_type": ct.pk, "topic": "what to sow in March",
        "keywords": "seeds, soil , , seeds", "language": "en", "priority": "2",
        "due_at": "2030-03-01T09:30",
    })
    # then the brief exists, queued with a job, and the editor lands on its page
    brief = ContentBrief.objects.get(title="Spring planting")
    assert response.status_code == 302
    assert response["Location"] == f"/briefs/{brief.pk}/"
    assert brief.state == BriefState.QUEUED
    assert brief.origin == Origin.DASHBOARD
    assert brief.keywords == ["seeds", "soil"]
    assert brief.variants == 3
    assert brief.priority == 2
    assert brief.created_by == editor
    assert brief.jobs.count() == 1


def test_brief_form_refuses_another_workspaces_content_type(ws, editor):
    # given a content type of another workspace
    foreign = factories.content_type(factories.workspace())
    # when an editor picks it
    response = logged_in(editor).post("/briefs/new/", {
        "title": "Sneaky", "content_type": foreign.pk, "topic": "x", "language": "en",
        "priority": "0",
    })
    # then the form shows the error inline and nothing is created
    assert response.status_code == 400
    assert "content_type" in response.context["form"].errors
    assert b'class="field-error"' in response.content
    assert not ContentBrief.objects.filter(title="Sneaky").exists()


def test_reviewer_may_not_create_briefs(ws, reviewer):
    response = logged_in(reviewer).get("/briefs/new/")
    assert response.status_code == 403
    assert b"You do not have a role in this workspace" in response.content


# --- the brief page and review decisions ----------------------------------------------


def test_brief_page_shows_drafts_best_first_with_one_approve_form(ws, reviewer, in_review, target):
    response = logged_in(reviewer).get(f"/briefs/{in_review.pk}/")
    assert response.status_code == 200
    page = response.context["page"]
    assert [d.variant for d in page.drafts] == [1, 0]
    assert [d.evaluation.score for d in page.drafts] == [0.87, 0.61]
    html = response.content.decode()
    assert html.count(f'action="/briefs/{in_review.pk}/approve/"') == 1
    assert f'value="{target.pk}" id="id_approve_targets_0" checked' in html
    assert "brief.in_review" in html  # the audit trail


def test_reviewer_approves_and_the_brief_is_scheduled(ws, reviewer, in_review, target):
    # given the best draft
    best = in_review.drafts.get(variant=1)
    # when the reviewer approves it for the target
    response = logged_in(reviewer).post(f"/briefs/{in_review.pk}/approve/", {
        "draft_id": best.pk, "comment": "Lovely.", "targets": [target.pk],
    })
    # then the brief is scheduled, with one publication of that draft's revision
    assert response.status_code == 302
    assert response["Location"] == f"/briefs/{in_review.pk}/"
    in_review.refresh_from_db()
    assert in_review.state == BriefState.SCHEDULED
    publication = Publication.objects.get(brief=in_review)
    assert (publication.target_id, publication.revision.draft_id, publication.state) == (
        target.pk, best.pk, PublicationState.SCHEDULED)
    review = Review.objects.get(brief=in_review)
    assert (review.decision, review.comment, review.reviewer) == (
        Decision.APPROVE, "Lovely.", reviewer)


def test_approving_without_targets_leaves_the_brief_approved(ws, reviewer, in_review, target):
    best = in_review.drafts.get(variant=1)
    logged_in(reviewer).post(f"/briefs/{in_review.pk}/approve/", {"draft_id": best.pk})
    in_review.refresh_from_db()
    assert in_review.state == BriefState.APPROVED
    assert not Publication.objects.filter(brief=in_review).exists()


def test_a_second_approval_shows_the_conflict_not_a_500(ws, reviewer, in_review, target):
    # given an approved brief
    client = logged_in(reviewer)
    best = in_review.drafts.get(variant=1)
    client.post(f"/briefs/{in_review.pk}/approve/", {"draft_id": best.pk, "targets": [target.pk]})
    # when it is approved again (a second tab, a double click)
    response = client.post(f"/briefs/{in_review.pk}/approve/", {"draft_id": best.pk})
    # then the brief page says why, with 409, and nothing more is published
    assert response.status_code == 409
    assert response.context["error"] == (
        f"Brief {in_review.pk} cannot go from 'scheduled' to 'approved'.")
    assert b'role="alert"' in response.content
    assert Publication.objects.filter(brief=in_review).count() == 1


def test_request_changes_requeues_with_the_feedback(ws, reviewer, in_review):
    response = logged_in(reviewer).post(f"/briefs/{in_review.pk}/request-changes/",
                                        {"feedback": "Shorter, with a list of tools."})
    assert response.status_code == 302
    in_review.refresh_from_db()
    assert in_review.state == BriefState.QUEUED
    assert in_review.feedback == "Shorter, with a list of tools."
    assert in_review.jobs.count() == 2


def test_request_changes_needs_feedback(ws, reviewer, in_review):
    response = logged_in(reviewer).post(f"/briefs/{in_review.pk}/request-changes/",
                                        {"feedback": ""})
    assert response.status_code == 400
    assert response.context["changes_form"].errors == {"feedback": ["This field is required."]}
    in_review.refresh_from_db()
    assert in_review.state == BriefState.IN_REVIEW


def test_reviewer_rejects(ws, reviewer, in_review):
    response = logged_in(reviewer).post(f"/briefs/{in_review.pk}/reject/", {"comment": "Off topic"})
    assert response.status_code == 302
    in_review.refresh_from_db()
    assert in_review.state == BriefState.REJECTED


def test_editor_may_not_decide(ws, editor, in_review):
    best = in_review.drafts.get(variant=1)
    response = logged_in(editor).post(f"/briefs/{in_review.pk}/approve/", {"draft_id": best.pk})
    assert response.status_code == 403
    in_review.refresh_from_db()
    assert in_review.state == BriefState.IN_REVIEW


@pytest.mark.parametrize("method,path", [
    ("get", "/briefs/{id}/"),
    ("get", "/briefs/{id}/card/"),
    ("post", "/briefs/{id}/approve/"),
    ("post", "/briefs/{id}/reject/"),
    ("post", "/briefs/{id}/request-changes/"),
])
def test_outsiders_cannot_see_or_decide(ws, outsider, in_review, method, path):
    # given a reviewer of another workspace
    client = logged_in(outsider)
    best = in_review.drafts.get(variant=1)
    data = {"draft_id": best.pk, "feedback": "mine now", "comment": "no"}
    # when they open or act on this workspace's brief
    response = getattr(client, method)(path.format(id=in_review.pk), data)
    # then it does not exist for them, and nothing changed
    assert response.status_code == 404
    in_review.refresh_from_db()
    assert in_review.state == BriefState.IN_REVIEW


# --- the workspace switcher -------------------------------------------------------------


def test_switching_workspace_changes_the_queue(ws, editor):
    # given an editor of two workspaces, each with a brief
    other = factories.workspace(name="Kitchen Notes")
    membership_grant(user=editor, workspace=other, role=Role.EDITOR)
    factories.brief(ws, title="Garden brief")
    factories.brief(other, title="Kitchen brief")
    client = logged_in(editor)
    assert b'<label for="workspace-switch">Workspace</label>' in client.get("/").content
    # when they switch to the other one
    response = client.post("/workspace/", {"workspace_id": other.pk})
    # then the queue shows that workspace's briefs
    assert response.status_code == 302
    titles = [b.title for c in client.get("/").context["columns"] for b in c.briefs]
    assert titles == ["Kitchen brief"]


def test_switching_to_a_foreign_workspace_is_refused(ws, editor):
    foreign = factories.workspace()
    client = logged_in(editor)
    response = client.post("/workspace/", {"workspace_id": foreign.pk})
    assert response.status_code == 403
    assert "workspace_id" not in client.session


def test_submitted_brief_shows_its_queued_job(ws, editor):
    brief = factories.brief(ws)
    brief_submit(brief=brief, actor=editor)
    response = logged_in(editor).get(f"/briefs/{brief.pk}/")
    assert response.status_code == 200
    assert [j.state for j in response.context["page"].jobs] == ["queued"]
    assert b'aria-label="Progress of job' in response.content
