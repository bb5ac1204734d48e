"""REST API v1: review decisions, the brief's full detail, and publications."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.utils import timezone

from apps.accounts.models import Role
from apps.briefs.models import BriefState, ContentBrief
from apps.publishing.models import Publication
from apps.publishing.services import publication_claim, publication_succeed
from apps.publishing.targets import target_create
from apps.reviews.models import Review
from apps.reviews.services import revision_edit
from tests import factories
from tests.clients import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def reviewer(ws):
    return factories.member(ws, Role.REVIEWER, username="rita")


@pytest.fixture
def brief(ws):
    return factories.brief_in_review(ws)


@pytest.fixture
def target(ws):
    return target_create(workspace=ws, name="Blog folder", kind="file",
                         config={"folder": "blog"}, auto_publish=False)


def url(brief: ContentBrief, action: str) -> str:
    return f"/api/v1/briefs/{brief.pk}/{action}/"


def test_approve_schedules_the_chosen_target(brief, reviewer, target):
    # given a brief in review and its best draft
    draft = brief.drafts.get(variant=0)
    # when the reviewer approves it for one target
    response = client_for(reviewer).post(
        url(brief, "approve"), {"draft_id": draft.pk, "comment": "Good.",
                                "target_ids": [target.pk]}, format="json")
    # then the brief is scheduled with a publication to that target
    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "scheduled"
    assert [(r["decision"], r["reviewer"], r["draft_id"], r["revision"], r["comment"])
            for r in body["reviews"]] == [("approve", "rita", draft.pk, 1, "Good.")]
    publication = Publication.objects.get()
    assert [(p["id"], p["target"], p["state"], p["external_id"]) for p in body["publications"]] == [
        (publication.pk, {"id": target.pk, "name": "Blog folder", "kind": "file"}, "scheduled",
         "")]


def test_a_second_approval_is_an_illegal_transition(brief, reviewer, target):
    # given an approved brief
    client = client_for(reviewer)
    body = {"draft_id": brief.drafts.get(variant=0).pk, "target_ids": [target.pk]}
    assert client.post(url(brief, "approve"), body, format="json").status_code == 200
    # when it is approved again
    again = client.post(url(brief, "approve"), body, format="json")
    # then the state machine refuses it with a conflict and nothing more is written
    assert again.status_code == 409
    assert again.json() == {"detail": f"Brief {brief.pk} cannot go from 'scheduled' to 'approved'."}
    assert (Review.objects.count(), Publication.objects.count()) == (1, 1)


def test_approve_reads_publish_at_as_publish_and_reschedule_do(brief, reviewer, target):
    # given a brief in review and a time next year without an offset
    client = client_for(reviewer)
    year = timezone.now().year + 1
    body = {"draft_id": brief.drafts.get(variant=0).pk, "target_ids": [target.pk],
            "publish_at": f"{year}-07-01T09:00:00"}
    # when it is sent alone, then with a timezone
    alone = client.post(url(brief, "approve"), body, format="json")
    placed = client.post(url(brief, "approve"), body | {"timezone": "America/Los_Angeles"},
                         format="json")
    # then the bare time is refused with the reason and nothing is written; with its zone it
    # is that wall-clock time in Los Angeles (UTC-7 in July)
    assert alone.status_code == 400
    assert alone.json() == {
        "publish_at": ["A time without an offset needs a 'timezone', e.g. Europe/Paris."]}
    assert placed.status_code == 200
    assert Publication.objects.get().scheduled_at == datetime(year, 7, 1, 16, 0, tzinfo=UTC)


def test_an_unknown_target_is_refused_and_the_approval_rolled_back(brief, reviewer):
    response = client_for(reviewer).post(
        url(brief, "approve"), {"draft_id": brief.drafts.get(variant=0).pk,
                                "target_ids": [999_999]}, format="json")
    assert response.status_code == 400
    assert response.json() == {"detail": "Unknown or disabled targets: 999999."}
    brief.refresh_from_db()
    assert (brief.state, Review.objects.count()) == (BriefState.IN_REVIEW, 0)


def test_approve_validates_its_fields_and_the_draft(ws, brief, reviewer):
    client = client_for(reviewer)
    other_draft = factories.brief_in_review(ws).drafts.get(variant=0)
    missing = client.post(url(brief, "approve"), {"target_ids": ["x"]}, format="json")
    foreign = client.post(url(brief, "approve"), {"draft_id": other_draft.pk}, format="json")
    assert missing.status_code == 400
    assert missing.json() == {"draft_id": ["This field is required."],
                              "target_ids": {"0": ["A valid integer is required."]}}
    assert foreign.status_code == 400
    assert foreign.json() == {"detail": "That draft does not belong to this brief."}
    brief.refresh_from_db()
    assert brief.state == BriefState.IN_REVIEW


def test_who_may_decide(ws, brief):
    # given an editor here and a reviewer of another workspace
    editor = factories.member(ws, Role.EDITOR)
    outsider = factories.member(factories.workspace(), Role.REVIEWER)
    body = {"draft_id": brief.drafts.get(variant=0).pk}
    # when they try to approve or reject
    as_editor = client_for(editor).post(url(brief, "approve"), body, format="json")
    as_outsider = client_for(outsider).post(url(brief, "reject"), {}, format="json")
    # then the editor's role may not, and the outsider cannot see the brief
    assert as_editor.status_code == 403
    assert as_outsider.status_code == 404
    brief.refresh_from_db()
    assert brief.state == BriefState.IN_REVIEW


def test_reject_ends_the_brief(brief, reviewer):
    response = client_for(reviewer).post(url(brief, "reject"), {"comment": "Off topic."},
                                         format="json")
    assert response.status_code == 200
    assert response.json()["state"] == "rejected"
    assert [(r["decision"], r["comment"], r["draft_id"]) for r in response.json()["reviews"]] == [
        ("reject", "Off topic.", None)]


def test_request_changes_needs_feedback_and_queues_a_new_job(brief, reviewer):
    client = client_for(reviewer)
    empty = client.post(url(brief, "request-changes"), {"feedback": " "}, format="json")
    assert empty.status_code == 400
    assert empty.json() == {"feedback": ["This field may not be blank."]}
    response = client.post(url(brief, "request-changes"), {"feedback": "Shorter, please."},
                           format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["state"], body["feedback"]) == ("queued", "Shorter, please.")
    assert [j["state"] for j in body["jobs"]] == ["succeeded", "queued"]


def test_detail_shows_scores_revisions_reviews_and_publications_in_seven_queries(
    ws, brief, reviewer, target, django_assert_num_queries
):
    # given a reviewer's edit of variant 0, its approval, and the publication done
    draft = brief.drafts.get(variant=0)
    revision_edit(draft=draft, text="Edited compost text.", author=reviewer)
    client = client_for(reviewer)
    client.post(url(brief, "approve"), {"draft_id": draft.pk, "target_ids": [target.pk]},
                format="json")
    publication = publication_claim(publication_id=Publication.objects.get().pk, worker_id="io")
    publication_succeed(publication=publication, external_id="post-7",
                        external_url="https://cms.example/post-7")
    # when the brief is read: membership, brief, jobs, drafts, revisions, reviews, publications
    with django_assert_num_queries(7):
        response = client.get(f"/api/v1/briefs/{brief.pk}/")
    listed = client.get("/api/v1/publications/", {"brief": brief.pk}).json()
    # then everything the pipeline produced is there
    body = response.json()
    assert body["state"] == "published"
    assert [(d["variant"], d["evaluation"]["score"], d["latest_revision"]["number"],
             d["latest_revision"]["author"], d["latest_revision"]["text"])
            for d in body["drafts"]] == [
        (0, 0.8, 2, "rita", "Edited compost text."),
        (1, 0.6, 1, None, "Variant 1: start a compost heap."),
    ]
    assert [(r["decision"], r["revision"]) for r in body["reviews"]] == [("approve", 2)]
    assert [(p["target"]["name"], p["state"], p["external_id"], p["external_url"])
            for p in body["publications"]] == [
        ("Blog folder", "published", "post-7", "https://cms.example/post-7")]
    assert listed["results"] == body["publications"]


def test_publications_are_scoped_to_the_workspace_in_two_queries(
    ws, brief, reviewer, target, django_assert_num_queries
):
    # given two approved briefs with a publication each, and an editor of another workspace
    second_target = target_create(workspace=ws, name="Second", kind="file",
                                  config={"folder": "second"}, auto_publish=False)
    client_for(reviewer).post(url(brief, "approve"), {"draft_id": brief.drafts.get(variant=0).pk,
                                                      "target_ids": [target.pk]}, format="json")
    other = factories.brief_in_review(ws)
    client_for(reviewer).post(url(other, "approve"), {"draft_id": other.drafts.get(variant=0).pk,
                                                      "target_ids": [second_target.pk]},
                              format="json")
    outsider = factories.member(factories.workspace(), Role.EDITOR)
    # when each lists publications: membership, page (targets joined)
    with django_assert_num_queries(2):
        everything = client_for(reviewer).get("/api/v1/publications/").json()
    mine = client_for(reviewer).get("/api/v1/publications/", {"brief": brief.pk}).json()
    theirs = client_for(outsider).get("/api/v1/publications/", {"brief": brief.pk}).json()
    # then ours are newest first, filtered by brief; theirs are empty
    assert [(p["brief_id"], p["target"]["name"]) for p in everything["results"]] == [
        (other.pk, "Second"), (brief.pk, "Blog folder")]
    assert [p["brief_id"] for p in mine["results"]] == [brief.pk]
    assert (theirs["next"], theirs["results"]) == (None, [])
