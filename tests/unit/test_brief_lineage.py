"""A brief's lineage in one place: GET /api/v1/briefs/<id>/lineage/ and the brief page's folded
panel, both from workflow.selectors.brief_lineage, in a bounded number of queries."""

from __future__ import annotations

import pytest
from django.utils.html import escape

from apps.accounts.models import Role
from apps.evaluation.models import GateDecision, QualityGate
from apps.publishing.services import (
    publication_claim,
    publication_engagement_record,
    publication_succeed,
)
from apps.publishing.targets import target_create
from apps.reviews.services import revision_edit
from apps.workflow.services import review_approve, review_request_changes
from tests import factories
from tests.clients import client_for, logged_in

pytestmark = pytest.mark.django_db

# brief_lineage's six queries, plus the API's own (key or session, membership, ...).
QUERY_BOUND = 12


def _published(ws, reviewer, *, scores=(0.8, 0.6)):  # type: ignore[no-untyped-def]
    """A brief sent back once, then edited, approved and published, with engagement; its
    content type's gate flags a risk in the texts (a reason: to review)."""
    ct = factories.content_type(ws)
    QualityGate.objects.create(workspace=ws, name="Gate", content_type=ct, risk_patterns=[
        {"name": "heap talk", "pattern": "heap"}])
    brief = factories.brief_in_review(ws, ct=ct, scores=scores, title="Rain gardens")
    review_request_changes(brief=brief, reviewer=reviewer, feedback="Shorter, please.")
    factories.job_written_and_scored(brief.jobs.order_by("-id").first(), scores)
    brief.refresh_from_db()
    best = brief.jobs.order_by("-id").first().drafts.get(variant=0)
    revision_edit(draft=best, text="Plant a rain garden where the water runs.", author=reviewer)
    target = target_create(workspace=ws, name="Site", kind="file", config={"folder": "site"})
    review_approve(brief=brief, draft_id=best.pk, reviewer=reviewer, comment="Good.",
                   target_ids=[target.pk])
    publication = publication_succeed(
        publication=publication_claim(publication_id=brief.publications.get().pk,
                                      worker_id="io"),
        external_id="rain-gardens", external_url="https://example.org/rain-gardens")
    publication_engagement_record(publication_id=publication.pk,
                                  engagement={"likes": 7, "replies": 2})
    return brief


def test_lineage_api_traces_prompt_model_scores_gate_reviews_and_publications(ws, rita):
    # given a brief generated twice (changes requested), edited, approved and published
    brief = _published(ws, rita)
    # when its lineage is asked for
    answer = client_for(rita).get(f"/api/v1/briefs/{brief.pk}/lineage/")
    # then every round is there, oldest first, with its template, prompt, model and scores
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["brief"] == {"id": brief.pk, "title": "Rain gardens", "state": "published"}
    first, second = body["jobs"]
    assert first["id"] < second["id"]
    assert first["prompt_template"]["version"] == 1
    assert "Title: {title}" in first["prompt_template"]["template"]
    assert "Title: Rain gardens\n" in first["prompt"]
    assert "Shorter, please." in second["prompt"]  # the reviewer's feedback went into round 2
    assert [d["variant"] for d in second["drafts"]] == [0, 1]
    draft = second["drafts"][0]
    assert (draft["model_name"], draft["seed"], draft["rank"]) == ("builtin", 0, 1)
    assert (draft["scores"]["relevance"], draft["scores"]["passed"]) == (0.7, True)
    assert set(draft) >= {"model_revision", "parameters", "prompt_tokens", "completion_tokens"}
    assert (second["gate"]["decision"], second["gate"]["passed"]) == ("review", True)
    assert second["gate"]["best_draft_id"] == draft["id"]
    assert second["gate"]["reasons"] == ["needs approval by a reviewer: heap talk detected"]
    # and the edit, the decisions and where the text went, with its engagement
    [edit] = draft["edits"]
    assert (edit["number"], edit["author"], edit["text"]) == (
        2, "rita", "Plant a rain garden where the water runs.")
    assert [d["edits"] for d in first["drafts"]] == [[], []]
    assert [(r["decision"], r["reviewer"]) for r in body["reviews"]] == [
        ("request_changes", "rita"), ("approve", "rita")]
    assert body["reviews"][1]["revision"] == 2
    [publication] = body["publications"]
    assert publication["target"]["name"] == "Site"
    assert (publication["state"], publication["revision"], publication["external_id"],
            publication["external_url"], publication["engagement"]) == (
        "published", 2, "rain-gardens", "https://example.org/rain-gardens",
        {"likes": 7, "replies": 2})
    assert publication["engagement_at"] is not None


def test_lineage_of_a_brief_of_another_workspace_is_404(ws, rita):
    theirs = factories.workspace(name="Theirs")
    brief = factories.brief_in_review(theirs, title="Their secret")
    answer = client_for(rita).get(f"/api/v1/briefs/{brief.pk}/lineage/",
                                  headers={"X-Workspace": str(ws.pk)})
    assert answer.status_code == 404
    assert b"Their secret" not in answer.content


@pytest.mark.parametrize("variants", [1, 6])
def test_lineage_query_count_is_bounded_whatever_the_number_of_drafts(
        ws, rita, variants, django_assert_max_num_queries):
    brief = _published(ws, rita, scores=tuple(0.9 - 0.1 * v for v in range(variants)))
    client = client_for(rita)
    with django_assert_max_num_queries(QUERY_BOUND):
        answer = client.get(f"/api/v1/briefs/{brief.pk}/lineage/")
    assert len(answer.json()["jobs"][1]["drafts"]) == variants


def test_the_brief_page_folds_the_lineage_panel_from_the_same_selector(ws, rita):
    # given a published brief
    brief = _published(ws, rita)
    editor = factories.member(ws, Role.EDITOR)
    # when an editor opens its page
    page = logged_in(editor).get(f"/briefs/{brief.pk}/")
    # then the lineage panel is there, folded, with the rounds, the edit and the engagement
    assert page.status_code == 200
    html = page.content.decode()
    panel = html[html.index('id="lineage"'):html.index('id="audit"')]
    assert "<details>" in panel and "<details open" not in panel
    assert "Round 1: job" in panel and "Round 2: job" in panel
    assert "Rendered prompt" in panel and "Shorter, please." in panel
    assert "edited to r2 by rita" in panel
    assert "Quality gate: <strong>sent to review</strong>" in panel
    [reason] = GateDecision.objects.filter(brief=brief).order_by("-id").first().reasons
    assert f"<li>{escape(reason)}</li>" in panel
    assert "<strong>Request Changes</strong> by rita" in panel
    assert "<strong>Approve</strong> by rita on draft" in panel
    assert 'href="https://example.org/rain-gardens"' in panel
    assert "likes 7, replies 2" in panel
