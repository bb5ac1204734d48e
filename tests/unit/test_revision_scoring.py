"""A reviewer's edit is scored like the model's text, and no revision breaking a hard rule is
approved unless a workspace admin overrides it with a recorded justification."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import Role
from apps.briefs.models import BriefState, StyleGuide
from apps.core.errors import DomainError, PermissionDenied
from apps.core.models import AuditEvent
from apps.core.pipeline import next_step
from apps.evaluation import selectors
from apps.evaluation.models import RevisionEvaluation, TextFingerprint
from apps.reviews.models import Decision, DraftRevision, Review
from apps.reviews.services import revision_edit
from apps.workflow.services import review_approve
from tests import factories
from tests.clients import logged_in
from workers.tasks.evaluation import evaluate_revision

pytestmark = pytest.mark.django_db

CLEAN = "Start a compost heap with kitchen scraps and dry leaves, and turn it every week."
BANNED = "Start a compost heap with kitchen scraps: rich soil guaranteed within a month."
LEAKY = "Start a compost heap with kitchen scraps. Questions? Mail ann.lee@example.org today."
FRENCH = ("Commencez un tas de compost avec les épluchures de cuisine et les feuilles sèches, "
          "puis retournez-le chaque semaine.")


@pytest.fixture
def rita(ws):
    return factories.member(ws, Role.REVIEWER, username="rita")


@pytest.fixture
def brief(ws):
    guide = StyleGuide.objects.create(workspace=ws, name="House", banned_terms=["guaranteed"])
    return factories.brief_in_review(ws, style_guide=guide)


def _draft(brief):
    return brief.drafts.order_by("-evaluation__score").first()


def test_an_edit_that_adds_a_banned_term_is_refused_at_approval(brief, rita) -> None:
    # Given a reviewer's edit adding the style guide's banned term
    draft = _draft(brief)
    revision_edit(draft=draft, text=BANNED, author=rita)
    # When it is approved before any worker scored it, then it is refused with the reason
    with pytest.raises(DomainError) as refused:
        review_approve(brief=brief, draft_id=draft.pk, reviewer=rita)
    assert str(refused.value) == (
        "Revision 2 breaks a hard rule: banned terms found (none allowed): guaranteed. Edit it, "
        "or a workspace admin may approve it with a justification.")
    brief.refresh_from_db()
    assert brief.state == BriefState.IN_REVIEW
    assert not Review.objects.filter(brief=brief, decision=Decision.APPROVE).exists()
    # And a clean edit of the same draft is approved
    revision_edit(draft=draft, text=CLEAN, author=rita)
    review_approve(brief=brief, draft_id=draft.pk, reviewer=rita)
    brief.refresh_from_db()
    assert brief.state == BriefState.APPROVED


def test_an_edit_in_another_language_is_refused(brief, rita) -> None:
    draft = _draft(brief)
    revision_edit(draft=draft, text=FRENCH, author=rita)
    with pytest.raises(DomainError, match="text in another language than the brief's found "
                                          r"\(none allowed\): French"):
        review_approve(brief=brief, draft_id=draft.pk, reviewer=rita)


def test_the_evaluation_worker_scores_the_edit_and_approval_reads_its_scores(brief, rita) -> None:
    # Given an edit leaking an email address
    draft = _draft(brief)
    revision_edit(draft=draft, text=LEAKY, author=rita)
    # When the evaluation worker scores it (twice: a redelivery changes nothing)
    evaluate_revision.apply(args=[draft.pk], throw=True)
    evaluate_revision.apply(args=[draft.pk], throw=True)
    # Then the revision has its own scores, failing on the email address
    evaluation = RevisionEvaluation.objects.get(revision__draft=draft)
    assert evaluation.revision.number == 2
    assert evaluation.passed is False
    assert [f["reason"] for f in evaluation.findings] == [
        "email addresses found (none allowed): ann.lee@example.org"]
    assert evaluation.metrics["emails"] == ["ann.lee@example.org"]
    assert evaluation.embedding_model == "sentence-transformers/all-MiniLM-L6-v2"
    # 14 words: the address counts as ann, lee, example, org
    assert 0 < evaluation.relevance <= 1 and evaluation.metrics["length"] == 14
    # And its fingerprint is stored: once it goes out, no job has to index it first
    fingerprint = TextFingerprint.objects.get(revision=evaluation.revision)
    assert fingerprint.embedding_model == evaluation.embedding_model
    sent = DraftRevision.objects.filter(pk=evaluation.revision_id)
    sent.update(went_out=True)
    assert selectors.published_texts_unindexed(
        workspace_id=brief.workspace_id, embedding_model=evaluation.embedding_model,
        language="en") == []
    sent.update(went_out=False)
    # And approval is refused with that reason
    with pytest.raises(DomainError, match="email addresses found"):
        review_approve(brief=brief, draft_id=draft.pk, reviewer=rita)


def test_only_an_admin_overrides_a_hard_rule_and_the_justification_is_recorded(ws, brief,
                                                                                rita) -> None:
    draft = _draft(brief)
    revision_edit(draft=draft, text=BANNED, author=rita)
    # A reviewer's justification is not enough
    with pytest.raises(PermissionDenied, match="Only a workspace admin"):
        review_approve(brief=brief, draft_id=draft.pk, reviewer=rita,
                       override_justification="The client insists.")
    # A workspace admin's is, and the audit trail keeps it with the rule broken
    ada = factories.member(ws, Role.ADMIN, username="ada")
    review_approve(brief=brief, draft_id=draft.pk, reviewer=ada,
                   override_justification="  Quoting the supplier's guarantee verbatim.  ")
    brief.refresh_from_db()
    assert brief.state == BriefState.APPROVED
    event = AuditEvent.objects.get(action="review.hard_rule_overridden")
    assert (event.actor, event.after) == (ada, {
        "draft_id": draft.pk, "revision": 2, "rules": ["banned_term"],
        "reasons": ["banned terms found (none allowed): guaranteed"],
        "justification": "Quoting the supplier's guarantee verbatim."})


def test_an_edit_is_sent_to_the_evaluation_worker() -> None:
    assert next_step("draft.edited", 41) == ("evaluation.evaluate_revision", [41], {})


def test_the_review_screen_shows_the_edit_and_its_scores(brief, rita) -> None:
    # Given an edit leaking an email address
    draft = _draft(brief)
    revision_edit(draft=draft, text=LEAKY, author=rita)
    page = f"/briefs/{brief.pk}/"
    # Then until the worker scored it, the page says so
    assert "Revision 2: being scored" in logged_in(rita).get(page).content.decode()
    # And once scored, the page shows its scores and the hard rule it breaks
    evaluate_revision.apply(args=[draft.pk], throw=True)
    evaluation = RevisionEvaluation.objects.get(revision__draft=draft)
    html = logged_in(rita).get(page).content.decode()
    assert (f"Revision 2: score {evaluation.score:.3f}, relevance {evaluation.relevance:.3f}, "
            f"length fit {evaluation.length_fit:.3f}; breaks a hard rule: email addresses found "
            "(none allowed): ann.lee@example.org. Approval needs a workspace admin's "
            "justification.") in html


def test_the_api_refuses_a_failing_edit_and_takes_an_admin_override(ws, brief, rita) -> None:
    draft = _draft(brief)
    revision_edit(draft=draft, text=BANNED, author=rita)
    ada = factories.member(ws, Role.ADMIN, username="ada")
    client = APIClient()
    client.force_authenticate(ada)
    url = f"/api/v1/briefs/{brief.pk}/approve/"
    refused = client.post(url, {"draft_id": draft.pk}, format="json")
    assert (refused.status_code, refused.json()) == (400, {"detail": (
        "Revision 2 breaks a hard rule: banned terms found (none allowed): guaranteed. Edit it, "
        "or a workspace admin may approve it with a justification.")})
    approved = client.post(url, {"draft_id": draft.pk,
                                 "override_justification": "A quoted guarantee."}, format="json")
    assert (approved.status_code, approved.json()["state"]) == (200, "approved")


def test_the_brief_page_refuses_a_failing_edit_and_takes_an_admins_justification(ws, brief,
                                                                                  rita) -> None:
    draft = _draft(brief)
    revision_edit(draft=draft, text=BANNED, author=rita)
    url = f"/briefs/{brief.pk}/approve/"
    refused = logged_in(rita).post(url, {"draft_id": draft.pk})
    assert refused.status_code == 400
    assert "Revision 2 breaks a hard rule: banned terms found (none allowed): guaranteed." in (
        refused.content.decode())
    ada = factories.member(ws, Role.ADMIN, username="ada")
    approved = logged_in(ada).post(url, {"draft_id": draft.pk,
                                         "override_justification": "A quoted guarantee."})
    assert approved.status_code == 302
    brief.refresh_from_db()
    assert brief.state == BriefState.APPROVED
