"""The queue: board and table, filters and search, due flags, bulk actions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.accounts.models import Role
from apps.briefs.models import BriefState, Origin
from apps.publishing.targets import target_create
from apps.reviews.models import ReviewAssignment
from tests import factories
from tests.clients import logged_in

pytestmark = pytest.mark.django_db


def board_titles(response) -> dict[str, list[str]]:
    return {c.state: [b.title for b in c.briefs] for c in response.context["columns"] if c.briefs}


def test_filters_narrow_the_board_by_type_origin_due_score_assignee_and_search(ws, eddie, rita):
    # Given briefs of two types, origins and due dates, one reviewed and assigned
    blog, news = factories.content_type(ws, name="Blog"), factories.content_type(ws, name="News")
    now = timezone.now()
    factories.brief(ws, blog, title="Compost basics", due_at=now - timedelta(hours=1))
    factories.brief(ws, news, title="Seed swap news", origin=Origin.API,
                    due_at=now + timedelta(hours=3))
    reviewed = factories.brief_in_review(ws, ct=blog, title="Worm farms", scores=(0.9, 0.2))
    ReviewAssignment.objects.create(brief=reviewed, reviewer=rita, assigned_at=now)
    client = logged_in(eddie)
    # When and then: each filter keeps what it names
    assert board_titles(client.get("/", {"content_type": news.pk})) == {"draft": ["Seed swap news"]}
    assert board_titles(client.get("/", {"origin": "api"})) == {"draft": ["Seed swap news"]}
    assert board_titles(client.get("/", {"due": "overdue"})) == {"draft": ["Compost basics"]}
    assert board_titles(client.get("/", {"due": "soon"})) == {"draft": ["Seed swap news"]}
    assert board_titles(client.get("/", {"min_score": "0.5"})) == {"in_review": ["Worm farms"]}
    assert board_titles(client.get("/", {"assignee": rita.pk})) == {"in_review": ["Worm farms"]}
    assert board_titles(client.get("/", {"assignee": 0})) == {
        "draft": ["Compost basics", "Seed swap news"]}
    assert board_titles(client.get("/", {"q": "worm"})) == {"in_review": ["Worm farms"]}


def test_the_target_filter_keeps_briefs_published_there(ws, eddie, rita):
    site = target_create(workspace=ws, name="Site", kind="file", config={"folder": "site"})
    target_create(workspace=ws, name="Other", kind="file", config={"folder": "other"},
                  auto_publish=False)
    from apps.workflow.services import review_approve

    published = factories.brief_in_review(ws, title="Going out")
    review_approve(brief=published, draft_id=published.drafts.first().pk, reviewer=rita,
                   target_ids=[site.pk])
    factories.brief(ws, title="Staying in")
    assert board_titles(logged_in(eddie).get("/", {"target": site.pk})) == {
        "scheduled": ["Going out"]}


def test_cards_flag_overdue_and_near_due_briefs(ws, eddie):
    now = timezone.now()
    factories.brief(ws, title="Late", due_at=now - timedelta(minutes=5))
    factories.brief(ws, title="Soon", due_at=now + timedelta(hours=2))
    factories.brief(ws, title="Later", due_at=now + timedelta(days=3))
    response = logged_in(eddie).get("/")
    [drafts] = [c for c in response.context["columns"] if c.state == BriefState.DRAFT]
    assert {b.title: b.due_flag for b in drafts.briefs} == {
        "Late": "overdue", "Soon": "due-soon", "Later": ""}
    assert b'class="card overdue"' in response.content


def test_a_column_shows_its_first_cards_and_counts_them_all(ws, eddie, monkeypatch):
    from apps.dashboard import selectors

    monkeypatch.setattr(selectors, "COLUMN_LIMIT", 2)
    ct = factories.content_type(ws)
    for n in range(3):
        factories.brief(ws, ct, title=f"Brief {n}", priority=n)
    columns = selectors.queue_columns(workspace_id=ws.pk, limit=2)
    [drafts] = [c for c in columns if c.state == BriefState.DRAFT]
    assert (drafts.count, [b.title for b in drafts.briefs]) == (3, ["Brief 2", "Brief 1"])


def test_the_table_pages_through_every_brief_in_queue_order(ws, eddie):
    ct = factories.content_type(ws)
    for n in range(3):
        factories.brief(ws, ct, title=f"Brief {n}", priority=n)
    response = logged_in(eddie).get("/", {"view": "table"})
    assert [b.title for b in response.context["table"]] == ["Brief 2", "Brief 1", "Brief 0"]
    assert b"3 briefs" in response.content


def test_board_and_table_queries_do_not_grow_with_the_number_of_briefs(ws, eddie):
    ct = factories.content_type(ws)
    client = logged_in(eddie)

    def queries(params: dict) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/", params).status_code == 200
        return len(captured)

    def add(n: int) -> None:  # n briefs in each of draft, queued and in review
        for i in range(n):
            factories.brief(ws, ct, title=f"Draft {i}")
            factories.brief(ws, ct, title=f"Queued {i}", submit=True)
            factories.brief_in_review(ws, ct=ct, title=f"Review {i}")

    add(1)
    few = (queries({}), queries({"view": "table"}))
    add(9)
    # The board costs one query per non-empty state on top of a fixed few.
    assert (queries({}), queries({"view": "table"})) == few
    assert few[0] - 3 + len(BriefState) <= 30  # even with every state non-empty


def test_bulk_assign_in_turn_then_approve_and_reject(ws, eddie, rita):
    factories.member(ws, Role.REVIEWER, username="sam")
    ct = factories.content_type(ws)  # the turn is kept per content type
    one, two = (factories.brief_in_review(ws, ct=ct, title=t) for t in ("One", "Two"))
    # When the eddie assigns both in turn
    response = logged_in(eddie).post("/bulk/", {"action": "assign", "reviewer": "round_robin",
                                                 "brief_ids": [one.pk, two.pk]})
    assert response.status_code == 302
    assert dict(ReviewAssignment.objects.values_list("brief__title", "reviewer__username")) == {
        "One": "rita", "Two": "sam"}
    # and rita approves one and rejects the other in bulk
    client = logged_in(rita)
    client.post("/bulk/", {"action": "approve", "brief_ids": [one.pk]})
    client.post("/bulk/", {"action": "reject", "brief_ids": [two.pk], "comment": "No."})
    one.refresh_from_db()
    two.refresh_from_db()
    assert (one.state, two.state) == (BriefState.APPROVED, BriefState.REJECTED)


def test_bulk_cancel_reports_what_it_could_not_do(ws, eddie):
    queued = factories.brief(ws, title="Queued", submit=True)
    reviewed = factories.brief_in_review(ws, title="Reviewed")
    from apps.workflow.services import review_reject

    review_reject(brief=reviewed, reviewer=factories.member(ws, Role.REVIEWER))
    response = logged_in(eddie).post("/bulk/", {"action": "cancel",
                                                 "brief_ids": [queued.pk, reviewed.pk]},
                                      follow=True)
    notes = [str(m) for m in response.context["messages"]]
    assert notes == ["Done for 1 brief(s): Queued",
                     f"Reviewed: Brief {reviewed.pk} cannot go from 'rejected' to 'cancelled'."]


def test_bulk_regenerate_requeues_a_failed_brief(ws, eddie):
    from apps.generation.services import job_fail

    brief = factories.brief(ws, title="Broken", submit=True)
    job_fail(job_id=brief.jobs.get().pk, error="GPU on fire")
    brief.refresh_from_db()
    assert brief.state == BriefState.FAILED
    logged_in(eddie).post("/bulk/", {"action": "regenerate", "brief_ids": [brief.pk]})
    brief.refresh_from_db()
    assert (brief.state, brief.jobs.count()) == (BriefState.QUEUED, 2)


def test_a_reviewer_may_not_cancel_and_others_briefs_are_untouched(ws, rita, eddie):
    mine = factories.brief(ws, title="Mine", submit=True)
    foreign_ws = factories.workspace()
    foreign = factories.brief(foreign_ws, title="Foreign", submit=True)
    assert logged_in(rita).post("/bulk/", {"action": "cancel", "brief_ids": [mine.pk]}
                                ).status_code == 403
    logged_in(eddie).post("/bulk/", {"action": "cancel", "brief_ids": [foreign.pk]})
    mine.refresh_from_db()
    foreign.refresh_from_db()
    assert (mine.state, foreign.state) == (BriefState.QUEUED, BriefState.QUEUED)
