"""REST API v1: creating, listing, reading and cancelling briefs; jobs; workspace scoping."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import Role
from apps.accounts.services import membership_grant
from apps.briefs.models import BriefState, ContentBrief, StyleGuide
from apps.generation.models import JobState
from tests import factories

pytestmark = pytest.mark.django_db

BRIEFS = "/api/v1/briefs/"


def client_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def ct(ws):
    return factories.content_type(ws, slug="blog")


def test_create_submits_the_brief_and_answers_with_its_job(ws, ct, editor):
    # given an editor and a content type of their workspace
    payload = {"title": "Composting at home", "content_type": "blog", "topic": "kitchen scraps",
               "keywords": ["compost", "garden"], "target_length": 60, "variants": 2,
               "language": "pt-BR", "reference_texts": ["An earlier post."], "priority": 5,
               "due_at": "2030-01-02T09:00:00Z", "external_id": "cms-1"}
    # when they post a brief
    response = client_for(editor).post(BRIEFS, payload, format="json")
    # then it is created from the API, submitted, and a queued job is linked
    assert response.status_code == 201
    brief = ContentBrief.objects.get()
    job = brief.jobs.get()
    body = response.json()
    assert (brief.origin, brief.state, brief.created_by, brief.workspace) == (
        "api", BriefState.QUEUED, editor, ws)
    assert (brief.keywords, brief.target_length, brief.variants, brief.language) == (
        ["compost", "garden"], 60, 2, "pt-BR")
    assert body["id"] == brief.pk
    assert body["state"] == "queued"
    assert body["url"] == f"/api/v1/briefs/{brief.pk}/"
    assert body["content_type"] == {"id": ct.pk, "slug": "blog", "name": ct.name}
    assert body["due_at"] == "2030-01-02T09:00:00Z"
    assert [(j["id"], j["state"], j["url"], j["events"]) for j in body["jobs"]] == [
        (job.pk, "queued", f"/api/v1/jobs/{job.pk}/", f"/ws/jobs/{job.pk}/")]
    assert (body["drafts"], body["reviews"], body["publications"]) == ([], [], [])


def test_a_due_time_without_an_offset_needs_a_timezone(ws, ct, editor):
    # given a due time with no offset
    client = client_for(editor)
    payload = {"title": "Mulch", "content_type": "blog", "topic": "mulching beds",
               "due_at": "2030-07-01T09:00:00"}
    # when it is sent alone, then with its zone
    alone = client.post(BRIEFS, payload, format="json")
    placed = client.post(BRIEFS, payload | {"timezone": "America/Los_Angeles"}, format="json")
    # then alone it is refused, as publish_at is, and with its zone it is 09:00 there
    assert alone.status_code == 400
    assert alone.json() == {
        "due_at": ["A time without an offset needs a 'timezone', e.g. Europe/Paris."]}
    assert placed.status_code == 201
    assert placed.json()["due_at"] == "2030-07-01T16:00:00Z"
    assert ContentBrief.objects.count() == 1


def test_create_takes_the_content_type_by_id_and_defaults_from_it(ws, ct, editor):
    # given a content type whose defaults are 40 words and 2 variants
    # when a brief names it by id and leaves length and variants out
    response = client_for(editor).post(
        BRIEFS, {"title": "Rain gardens", "content_type": ct.pk, "topic": "heavy rain"},
        format="json")
    # then the content type's defaults apply
    assert response.status_code == 201
    assert (response.json()["target_length"], response.json()["variants"]) == (40, 2)


def test_create_reports_every_invalid_field(ws, ct, editor):
    # given a body with required fields missing and the others out of range
    payload = {"target_length": 5, "variants": 9, "keywords": "compost",
               "source_material": "x" * 50_001, "language": "english!", "due_at": "tomorrow",
               "priority": 1000, "reference_texts": [["nested"]]}
    # when it is posted
    response = client_for(editor).post(BRIEFS, payload, format="json")
    # then each field says what is wrong and nothing is written
    assert response.status_code == 400
    assert response.json() == {
        "title": ["This field is required."],
        "content_type": ["This field is required."],
        "topic": ["This field is required."],
        "keywords": ['Expected a list of items but got type "str".'],
        "target_length": ["Ensure this value is greater than or equal to 10."],
        "variants": ["Ensure this value is less than or equal to 8."],
        "language": ["A language tag such as 'en' or 'pt-BR'."],
        "source_material": ["Ensure this field has no more than 50000 characters."],
        "reference_texts": {"0": ["Not a valid string."]},
        "due_at": ["Datetime has wrong format. Use one of these formats instead: "
                   "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."],
        "priority": ["Ensure this value is less than or equal to 100."],
    }
    assert ContentBrief.objects.count() == 0


def test_create_refuses_a_content_type_or_style_guide_of_another_workspace(ws, ct, editor):
    # given another workspace's content type and style guide
    other = factories.workspace()
    foreign_type = factories.content_type(other, slug="newsletter")
    foreign_guide = StyleGuide.objects.create(workspace=other, name="Theirs")
    client = client_for(editor)
    # when a brief names them, by slug or by id
    by_slug = client.post(BRIEFS, {"title": "t", "content_type": "newsletter", "topic": "x",
                                   "style_guide": foreign_guide.pk}, format="json")
    by_id = client.post(BRIEFS, {"title": "t", "content_type": foreign_type.pk, "topic": "x"},
                        format="json")
    # then they do not exist for this workspace
    assert by_slug.status_code == 400
    assert by_slug.json() == {
        "content_type": ["Unknown content type 'newsletter' in this workspace."],
        "style_guide": [f"Unknown style guide {foreign_guide.pk} in this workspace."],
    }
    assert by_id.status_code == 400
    assert by_id.json() == {
        "content_type": [f"Unknown content type '{foreign_type.pk}' in this workspace."]}
    assert ContentBrief.objects.count() == 0


def test_a_repeated_external_id_is_refused_by_the_service(ws, ct, editor):
    # given a brief pushed with an external id
    client = client_for(editor)
    body = {"title": "t", "content_type": "blog", "topic": "x", "external_id": "cms-9"}
    assert client.post(BRIEFS, body, format="json").status_code == 201
    # when the integration retries the same push
    again = client.post(BRIEFS, body, format="json")
    # then the domain refuses it and there is still one brief
    assert again.status_code == 400
    assert again.json() == {"detail": "A brief with external id 'cms-9' already exists."}
    assert ContentBrief.objects.count() == 1


def test_malformed_json_is_a_400(editor):
    response = client_for(editor).post(BRIEFS, data='{"title": ', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")


def test_a_json_body_that_is_not_an_object_is_a_400(editor):
    response = client_for(editor).post(BRIEFS, data="[1, 2]", content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {
        "non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}


def test_roles_that_may_not_create_are_refused(ws, ct):
    # given a reviewer, and a caller who is not signed in
    reviewer = factories.member(ws, Role.REVIEWER)
    body = {"title": "t", "content_type": "blog", "topic": "x"}
    # when they post a brief
    as_reviewer = client_for(reviewer).post(BRIEFS, body, format="json")
    anonymous = client_for().post(BRIEFS, body, format="json")
    # then the reviewer is forbidden, the stranger challenged for a key, and nothing is written
    assert as_reviewer.status_code == 403
    assert as_reviewer.json() == {
        "detail": "You do not have a role in this workspace that allows this."}
    assert (anonymous.status_code, anonymous["WWW-Authenticate"]) == (401, "Bearer")
    assert anonymous.json() == {"detail": "Authentication credentials were not provided."}
    assert ContentBrief.objects.count() == 0


def test_the_workspace_header_and_the_session_choose_among_memberships(ws, ct):
    # given a reviewer here who is an editor in a second workspace
    second = factories.workspace()
    factories.content_type(second, slug="blog")
    user = factories.member(ws, Role.REVIEWER)
    membership_grant(user=user, workspace=second, role=Role.EDITOR)
    body = {"title": "t", "content_type": "blog", "topic": "x"}
    client = client_for(user)
    # when they post without naming a workspace, then they act in their first one
    assert client.post(BRIEFS, body, format="json").status_code == 403
    # when they name the second one in the header, then the brief lands there
    by_header = client.post(BRIEFS, body, format="json", headers={"X-Workspace": str(second.pk)})
    assert by_header.status_code == 201
    assert ContentBrief.objects.get(pk=by_header.json()["id"]).workspace == second
    # when the session's current workspace is the second one, then it lands there too
    session_client = APIClient()
    session_client.force_login(user)
    session = session_client.session
    session["workspace_id"] = second.pk
    session.save()
    assert session_client.post(BRIEFS, body, format="json").status_code == 201
    # when the header is not an id, then it is a bad request
    bad = client.post(BRIEFS, body, format="json", headers={"X-Workspace": "second"})
    assert bad.status_code == 400
    assert bad.json() == {"X-Workspace": ["A workspace id is a whole number."]}
    assert second.briefs.count() == 2


def test_list_is_newest_first_filtered_and_cursor_paginated_in_two_queries(
    ws, ct, editor, django_assert_num_queries
):
    # given briefs in several states, of several content types, and one elsewhere
    factories.brief(ws, ct, title="first")
    factories.brief(ws, factories.content_type(ws), title="second")
    factories.brief(ws, ct, title="third", submit=True)
    factories.brief(factories.workspace(), title="not ours")
    client = client_for(editor)
    # when the list is read: membership, page — whatever the number of briefs
    with django_assert_num_queries(2):
        everything = client.get(BRIEFS).json()
    for n in range(4):
        factories.brief(ws, factories.content_type(ws), title=f"more {n}")
    with django_assert_num_queries(2):
        assert len(client.get(BRIEFS).json()["results"]) == 7
    queued = client.get(BRIEFS, {"state": "queued"}).json()
    by_type = client.get(BRIEFS, {"content_type": ct.slug, "ordering": "created_at"}).json()
    first_page = client.get(BRIEFS, {"page_size": 4}).json()
    second_page = client.get(first_page["next"]).json()
    # then it is newest first, filtered by state or content type, ordered, and paginated
    assert [b["title"] for b in everything["results"]] == ["third", "second", "first"]
    assert everything["next"] is None
    assert [(b["title"], b["state"]) for b in queued["results"]] == [("third", "queued")]
    assert [b["title"] for b in by_type["results"]] == ["first", "third"]
    assert [b["title"] for b in first_page["results"]] == ["more 3", "more 2", "more 1", "more 0"]
    assert [b["title"] for b in second_page["results"]] == ["third", "second", "first"]
    assert (second_page["next"], second_page["previous"] is not None) == (None, True)


def test_list_refuses_an_unknown_state(editor):
    response = client_for(editor).get(BRIEFS, {"state": "lost"})
    assert response.status_code == 400
    assert response.json() == {
        "state": ["Select a valid choice. lost is not one of the available choices."]}


def test_a_brief_or_job_of_another_workspace_is_not_found(ws, editor):
    # given a submitted brief in another workspace
    foreign = factories.brief(factories.workspace(), submit=True)
    job = foreign.jobs.get()
    client = client_for(editor)
    # when our editor reads or cancels it, or reads its job
    detail = client.get(f"{BRIEFS}{foreign.pk}/")
    cancel = client.post(f"{BRIEFS}{foreign.pk}/cancel/")
    job_detail = client.get(f"/api/v1/jobs/{job.pk}/")
    # then none of it exists for them, and nothing changed
    assert (detail.status_code, cancel.status_code, job_detail.status_code) == (404, 404, 404)
    assert detail.json() == {"detail": f"Brief {foreign.pk} not found."}
    assert job_detail.json() == {"detail": f"Job {job.pk} not found."}
    foreign.refresh_from_db()
    assert foreign.state == BriefState.QUEUED


def test_cancel_stops_the_brief_and_its_job_and_a_second_cancel_conflicts(ws, ct, editor):
    # given a submitted brief
    brief = factories.brief(ws, ct, submit=True)
    client = client_for(editor)
    # when the editor cancels it twice
    first = client.post(f"{BRIEFS}{brief.pk}/cancel/")
    second = client.post(f"{BRIEFS}{brief.pk}/cancel/")
    # then the brief and its job are cancelled, and the repeat is an illegal transition
    assert first.status_code == 200
    assert first.json()["state"] == "cancelled"
    assert [j["state"] for j in first.json()["jobs"]] == ["cancelled"]
    assert brief.jobs.get().state == JobState.CANCELLED
    assert second.status_code == 409
    assert second.json() == {
        "detail": f"Brief {brief.pk} cannot go from 'cancelled' to 'cancelled'."}


def test_a_reviewer_may_read_but_not_cancel(ws, ct):
    brief = factories.brief(ws, ct, submit=True)
    client = client_for(factories.member(ws, Role.REVIEWER))
    assert client.get(f"{BRIEFS}{brief.pk}/").json()["state"] == "queued"
    assert client.post(f"{BRIEFS}{brief.pk}/cancel/").status_code == 403


def test_job_detail_names_its_brief_and_drafts(ws, ct, editor):
    brief = factories.brief(ws, ct, submit=True, title="Rain gardens")
    job = brief.jobs.get()
    response = client_for(editor).get(f"/api/v1/jobs/{job.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["state"], body["variants"], body["attempts"]) == (
        job.pk, "queued", 2, 0)
    assert body["brief"] == {"id": brief.pk, "title": "Rain gardens", "state": "queued"}
    assert body["drafts"] == []


def test_ids_beyond_64_bits_are_refused_or_not_found_never_a_500(editor):
    # given a client that does not raise server errors but answers them, as in production
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(editor)
    huge = "9" * 25
    # when ids too large for the database arrive in a path, a query, a header or a body
    detail = client.get(f"{BRIEFS}{huge}/")
    publications = client.get("/api/v1/publications/", {"brief": huge})
    header = client.get(BRIEFS, headers={"X-Workspace": huge})
    body = client.post(BRIEFS, {"title": "t", "topic": "x", "content_type": huge,
                                "style_guide": int(huge)}, format="json")
    # then each is a 404 or a 400 that says why
    assert detail.status_code == 404
    assert publications.status_code == 400
    assert publications.json() == {
        "brief": ["Ensure this value is less than or equal to 9223372036854775807."]}
    assert header.status_code == 400
    assert body.status_code == 400
    assert body.json() == {
        "content_type": [f"Unknown content type '{huge}' in this workspace."],
        "style_guide": ["Ensure this value is less than or equal to 9223372036854775807."]}
