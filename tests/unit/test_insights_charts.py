"""Insights people read: engagement per target and per content type, the gate's agreement
with reviewers per week, and the charts' human labels, on a small hand-counted workspace."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from apps.dashboard.charts import charts_json, insights_charts
from apps.dashboard.insights import insights
from apps.dashboard.templatetags.dashboard import date_text, duration_text
from apps.evaluation.models import QualityGate
from apps.generation.models import GenerationJob
from apps.publishing.targets import target_create
from apps.workflow.services import review_approve, review_reject, review_request_changes
from tests import factories
from tests.unit.test_eval_report import published_job, reviewed_job

pytestmark = pytest.mark.django_db


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


@pytest.fixture
def newsroom():  # type: ignore[no-untyped-def]
    """Four gated newsletters judged by reviewers (gate passed: approved, rejected; gate
    failed: approved by an admin, changes requested) and one ungated post, approved; the first
    newsletter finished a week earlier. Engagement pulled back: the first newsletter 10 likes
    + 5 shares on "Site" and 3 replies on "Social"; the post 4 clicks on "Social"."""
    ws = factories.workspace()
    news = factories.content_type(ws, name="Newsletter")
    post = factories.content_type(ws, name="Post")
    QualityGate.objects.create(workspace=ws, name="News", content_type=news, max_regenerations=0,
                               rules=[{"metric": "banned_terms_found", "max": 0,
                                       "severity": "fail"}])
    site, social = (target_create(workspace=ws, name=name, kind="file", config={"folder": name})
                    for name in ("Site", "Social"))
    reviewer = factories.member(ws, "reviewer", username="rita")
    early = published_job(ws, news, [site, social], score=0.9,
                          engagement=[{"likes": 10, "shares": 5}, {"replies": 3}])
    rejected = reviewed_job(ws, news, score=0.7, banned=[])
    overridden = reviewed_job(ws, news, score=0.6, banned=["synergy"])
    changes = reviewed_job(ws, news, score=0.2, banned=["synergy"])
    review_reject(brief=rejected, reviewer=reviewer)
    review_approve(brief=overridden, draft_id=overridden.drafts.get().pk,
                   reviewer=factories.member(ws, "admin"),
                   override_justification="The term is the client's product name.")
    review_request_changes(brief=changes, reviewer=reviewer, feedback="Shorter.")
    published_job(ws, post, [social], score=0.5, engagement=[{"clicks": 4}])
    job = early.jobs.get()
    GenerationJob.objects.filter(pk=job.pk).update(finished_at=job.finished_at - timedelta(days=7))
    return ws, reviewer


def test_engagement_and_agreement_are_counted_per_target_type_and_week(newsroom) -> None:
    ws, _ = newsroom
    figures = insights(workspace_id=ws.pk, days=30)
    assert figures["engagement"] == {
        "per_target": [{"name": "Site", "engagement": 15}, {"name": "Social", "engagement": 7}],
        "per_content_type": [{"name": "Newsletter", "engagement": 18},
                             {"name": "Post", "engagement": 4}],
    }
    today = timezone.localdate()
    # a week earlier: gate passed, approved; this week: passed/rejected, failed/approved,
    # failed/changes requested (the ungated post has no gate verdict to agree with)
    assert figures["gate_agreement"] == [
        {"week": _monday(today - timedelta(days=7)).isoformat(), "reviewed": 1,
         "agreement": 1.0, "precision": 1.0, "recall": 1.0},
        {"week": _monday(today).isoformat(), "reviewed": 3,
         "agreement": 0.333, "precision": 0.0, "recall": 0.0},
    ]
    assert figures["decisions"] == {"approve": 3, "reject": 1, "request_changes": 1}
    assert figures["approval_rate"] == 0.6


def test_the_page_draws_charts_from_json_with_human_labels(newsroom, django_assert_max_num_queries
                                                           ) -> None:
    ws, reviewer = newsroom
    client = Client()
    client.force_login(reviewer)
    # a fixed number of queries whatever the workspace holds: 11 for the figures (the gate's
    # agreement 3, engagement 2), the rest the session, the membership and the header's
    with django_assert_max_num_queries(18):
        page = client.get("/insights/")
    assert page.status_code == 200
    html = page.content.decode()
    data = json.loads(re.search(r'<script id="insights-charts" type="application/json">(.*?)</script>',
                                html, re.S).group(1))
    charts = {c["key"]: c for c in data}
    assert charts["decisions"]["labels"] == ["Approved", "Changes requested", "Rejected"]
    assert charts["decisions"]["series"] == [{"label": "Decisions", "values": [3, 1, 1],
                                              "texts": ["3", "1", "1"]}]
    assert charts["engagement-per_target"]["labels"] == ["Site", "Social"]
    assert charts["engagement-per_content_type"]["series"][0]["values"] == [18, 4]
    today = timezone.localdate()
    agreement = charts["gate-agreement"]
    assert agreement["labels"] == [date_text(_monday(today - timedelta(days=7))),
                                   date_text(_monday(today))]
    assert [s["label"] for s in agreement["series"]] == ["Agreement", "Precision", "Recall"]
    assert agreement["series"][0]["texts"] == ["100 %", "33 %"]
    # and the same numbers are a table under each chart
    assert "<tr><th scope=\"row\">Changes requested</th><td>1</td></tr>" in html
    assert "<td>33 %</td><td>0 %</td><td>0 %</td><td>3</td>" in html
    assert html.count('<canvas></canvas>') == len(data)


def test_durations_and_days_read_as_people_say_them() -> None:
    assert [duration_text(s) for s in (45, 720, 8040, 7200, 273600)] == [
        "45 s", "12 min", "2 h 14 min", "2 h", "3 days 4 h"]
    assert date_text(date(2026, 12, 5)) == "Dec 5"
    figures = {"days": 30, "briefs_per_day": [{"day": "2026-12-05", "briefs": 2}],
               "decisions": {"approve": 0, "reject": 0, "request_changes": 0},
               "approval_rate": None,
               "time_in_state": {"in_review": {"count": 2, "median_s": 8040, "p90_s": 9000.0}},
               "generation_cost": [], "score_distribution": {"bins": [0.0, 0.5], "counts": [0, 0],
                                                             "drafts": 0},
               "publication_success": [], "engagement": {"per_target": [], "per_content_type": []},
               "gate_agreement": []}
    charts = {c.key: c for c in insights_charts(figures)}
    assert charts["briefs-per-day"].labels == ["Dec 5"]
    in_state = charts["time-in-state"]
    assert in_state.labels == ["In review"] and in_state.axis == "hours"
    assert in_state.rows == [("In review", ["2 h 14 min", "2 h 30 min", "2"])]
    assert in_state.series[0].values == [2.23]
    # nothing decided and nothing scored: said in words, not drawn as zeros
    assert charts["decisions"].rows == [] and charts["scores"].rows == []
    assert [c["key"] for c in charts_json(list(charts.values()))] == ["briefs-per-day",
                                                                      "time-in-state"]
