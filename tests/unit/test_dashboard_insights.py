"""Insights: the page and its JSON give the same figures, computed from real records."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.accounts.models import Role
from apps.publishing.targets import target_create
from apps.workflow.services import review_approve, review_reject
from tests import factories

pytestmark = pytest.mark.django_db


def test_the_json_holds_every_figure_and_the_page_shows_them(db):
    # Given two briefs reviewed (one approved and scheduled, one rejected) and one draft
    ws = factories.workspace(name="Garden Weekly")
    rita = factories.member(ws, Role.REVIEWER, username="rita")
    target_create(workspace=ws, name="Site", kind="file", config={"folder": "site"})
    ct = factories.content_type(ws, name="Blog")
    approved = factories.brief_in_review(ws, ct=ct, scores=(0.85, 0.35))
    rejected = factories.brief_in_review(ws, ct=ct, scores=(0.55,))
    factories.brief(ws, ct)
    review_approve(brief=approved, draft_id=approved.drafts.first().pk, reviewer=rita)
    review_reject(brief=rejected, reviewer=rita)
    client = Client()
    client.force_login(rita)
    # When the JSON is asked for
    figures = client.get("/insights.json").json()
    # Then it counts what happened
    assert [d["briefs"] for d in figures["briefs_per_day"]] == [3]
    assert figures["decisions"] == {"approve": 1, "reject": 1, "request_changes": 0}
    assert figures["approval_rate"] == 0.5
    assert figures["generation_cost"] == [{"content_type": "Blog", "jobs": 2, "prompt_tokens": 36,
                                           "completion_tokens": 90, "tokens": 126}]
    assert figures["score_distribution"]["counts"] == [0, 0, 0, 1, 0, 1, 0, 0, 1, 0]
    assert figures["publication_success"] == [{"target_name": "Site", "published": 0,
                                               "failed": 0, "total": 1, "success_rate": None}]
    in_review = figures["time_in_state"]["in_review"]
    assert in_review["count"] == 2 and 0 <= in_review["median_s"] <= in_review["p90_s"]
    assert set(figures["time_in_state"]) >= {"queued", "generating", "in_review", "approved"}
    # and the page shows the same numbers
    page = client.get("/insights/")
    assert page.status_code == 200
    assert page.context["figures"] == {k: v for k, v in figures.items() if k != "workspace"}
    assert b"50 %" in page.content
