"""API v1 resources: lists (filters, cursor pages), details, actions, scopes, workspace isolation."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.briefs.models import BriefState, StyleGuide
from apps.generation.services import job_fail
from apps.publishing.models import PublicationState
from apps.publishing.services import publication_fail
from apps.publishing.targets import target_create
from apps.workflow.services import review_approve
from tests import factories
from tests.clients import client_for, key_client

pytestmark = pytest.mark.django_db

API = "/api/v1"


@pytest.fixture
def reviewed(ws, reviewer):
    """A brief in review with two scored drafts, and one approved and published to a folder."""
    pending = factories.brief_in_review(ws, scores=(0.9, 0.4))
    target = target_create(workspace=ws, name="Folder", kind="file", config={"folder": "site"})
    approved = factories.brief_in_review(ws, scores=(0.7,))
    review_approve(brief=approved, draft_id=approved.drafts.get().pk, reviewer=reviewer,
                   target_ids=[target.pk])
    return pending, approved, target


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_every_list_is_scoped_to_the_callers_workspace(ws, editor, reviewed):
    # given the same kinds of rows in another workspace
    other = factories.workspace()
    factories.brief_in_review(other)
    target_create(workspace=other, name="Theirs", kind="file", config={"folder": "x"})
    StyleGuide.objects.create(workspace=other, name="Theirs")
    factories.model_profile(other)
    client = client_for(editor)
    # when the editor lists each resource, then only their workspace's rows appear
    pending, approved, target = reviewed
    assert sorted(ids(client.get(f"{API}/jobs/"))) == sorted(
        [pending.jobs.get().pk, approved.jobs.get().pk])
    assert sorted(ids(client.get(f"{API}/drafts/"))) == sorted(
        [d.pk for d in pending.drafts.all()] + [approved.drafts.get().pk])
    assert len(ids(client.get(f"{API}/evaluations/"))) == 3
    assert ids(client.get(f"{API}/reviews/")) == [approved.reviews.get().pk]
    assert ids(client.get(f"{API}/publications/")) == [approved.publications.get().pk]
    assert ids(client.get(f"{API}/targets/")) == [target.pk]
    assert ids(client.get(f"{API}/style-guides/")) == []
    assert ids(client.get(f"{API}/model-profiles/")) == []
    assert len(ids(client.get(f"{API}/content-types/"))) == 2
    # and another workspace's rows are not found by id either
    theirs = other.briefs.get()
    assert client.get(f"{API}/drafts/{theirs.drafts.first().pk}/").status_code == 404
    assert client.get(f"{API}/jobs/{theirs.jobs.get().pk}/").status_code == 404


def test_lists_filter_and_order(ws, editor, reviewed):
    pending, approved, _ = reviewed
    client = client_for(editor)
    by_brief = client.get(f"{API}/drafts/", {"brief": pending.pk, "ordering": "variant"})
    best = client.get(f"{API}/evaluations/", {"min_score": 0.65, "ordering": "-score"})
    published = client.get(f"{API}/publications/", {"state": "scheduled"})
    assert [d["variant"] for d in by_brief.json()["results"]] == [0, 1]
    assert [e["score"] for e in best.json()["results"]] == [0.9, 0.7]
    assert ids(published) == [approved.publications.get().pk]
    assert client.get(f"{API}/jobs/", {"state": "nope"}).status_code == 400


def test_draft_detail_has_its_evaluation_and_revision(ws, editor, reviewed):
    pending, _, _ = reviewed
    draft = pending.drafts.get(variant=0)
    body = client_for(editor).get(f"{API}/drafts/{draft.pk}/").json()
    assert body["evaluation"]["score"] == 0.9
    assert body["latest_revision"]["number"] == 1
    assert body["text"] == "Variant 0: start a compost heap."


def test_submit_and_regenerate_move_the_brief_and_create_jobs(ws, editor):
    draft = factories.brief(ws)  # created, not submitted
    client = client_for(editor)
    submitted = client.post(f"{API}/briefs/{draft.pk}/submit/")
    assert (submitted.status_code, submitted.json()["state"]) == (200, "queued")
    again = client.post(f"{API}/briefs/{draft.pk}/submit/")
    assert (again.status_code, again.json()) == (
        409, {"detail": f"Brief {draft.pk} cannot go from 'queued' to 'queued'."})
    job_fail(job_id=draft.jobs.get().pk, error="out of memory")
    retried = client.post(f"{API}/briefs/{draft.pk}/regenerate/")
    assert (retried.status_code, retried.json()["state"]) == (200, BriefState.QUEUED)
    assert [j["state"] for j in retried.json()["jobs"]] == ["failed", "queued"]


def test_publication_retry_reschedules_a_failed_publication(ws, editor, reviewer, reviewed):
    _, approved, _ = reviewed
    publication = approved.publications.get()
    publication_fail(publication=publication, error="disk full")
    client = client_for(editor)
    retried = client.post(f"{API}/publications/{publication.pk}/retry/")
    assert (retried.status_code, retried.json()["state"]) == (200, PublicationState.SCHEDULED)
    assert client.post(f"{API}/publications/{publication.pk}/retry/").status_code == 409
    assert client_for(reviewer).post(f"{API}/publications/{publication.pk}/retry/"
                                     ).status_code == 403


def test_targets_are_created_with_a_secret_that_is_never_returned(ws, admin):
    client = client_for(admin)
    created = client.post(f"{API}/targets/", {"name": "CMS", "kind": "webhook",
                                              "config": {"url": "https://cms.test/hook"}},
                          format="json")
    refused = client.post(f"{API}/targets/", {"name": "Bad", "kind": "file",
                                              "config": {"folder": "/etc"}}, format="json")
    assert created.status_code == 201
    assert "secret" not in created.json()
    assert created.json()["config"] == {"url": "https://cms.test/hook"}
    assert (refused.status_code, refused.json()) == (400, {
        "detail": "A file target needs a relative 'folder' (no '..') in its config."})


def test_an_api_key_needs_the_scope_of_each_action(ws, editor, reviewer, reviewed):
    pending, _, _ = reviewed
    body = {"draft_id": pending.drafts.get(variant=0).pk, "target_ids": []}
    refused = key_client(ws, reviewer, "briefs:read").post(
        f"{API}/briefs/{pending.pk}/approve/", body, format="json")
    approved = key_client(ws, reviewer, "briefs:read", "reviews:write").post(
        f"{API}/briefs/{pending.pk}/approve/", body, format="json")
    assert (refused.status_code, refused.json()) == (
        403, {"detail": "This API key lacks the 'reviews:write' scope."})
    assert (approved.status_code, approved.json()["state"]) == (200, "approved")


def test_schema_swagger_and_redoc_are_served(editor, settings):
    if "drf_spectacular" not in settings.INSTALLED_APPS:  # its templates
        settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "drf_spectacular"]
    client = APIClient()
    schema = client.get(f"{API}/schema/", {"format": "json"})
    assert schema.status_code == 200
    spec = schema.json()
    assert spec["openapi"].startswith("3.")
    assert spec["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    assert "/api/v1/hooks/{slug}/" in spec["paths"]
    event = spec["webhooks"]["event"]["post"]["requestBody"]["content"]["application/json"]
    assert event["schema"]["properties"]["version"] == {"type": "integer", "enum": [1]}
    assert set(spec["paths"]["/api/v1/briefs/"]["post"]["responses"]) >= {
        "201", "400", "401", "403", "429"}
    for page in ("swagger", "redoc"):
        response = client.get(f"{API}/schema/{page}/")
        assert response.status_code == 200
        assert b"/api/v1/schema/" in response.content
