"""The A/B comparison of model versions on a seeded simulation: briefs drawn between a
profile's version and its candidate, gated, reviewed (some edited), published with
engagement; the comparison's counts, rates, edit distances and intervals checked by hand."""

from __future__ import annotations

import json
import random

import pytest

from apps.accounts.models import Role
from apps.core.models import Workspace
from apps.evaluation.models import QualityGate
from apps.evaluation.services import evaluation_record
from apps.generation.registry import model_profile_candidate_set
from apps.generation.services import job_claim, job_record_drafts
from apps.publishing.services import (
    publication_claim,
    publication_engagement_record,
    publication_succeed,
)
from apps.publishing.targets import target_create
from apps.reviews.services import revision_edit
from apps.workflow.model_comparison import model_version_comparison
from apps.workflow.services import review_approve, review_reject
from tests import factories
from tests.clients import client_for
from tests.unit.test_model_ab import registered_version
from workers.evaluation.comparison import edit_distance, mean, rate
from workers.evaluation.language import language
from workers.evaluation.types import DraftScore
from workers.generation.types import GeneratedText

MODEL_TEXT = "start a compost heap with kitchen scraps and dry leaves in layers"  # 12 words
EDITED_TEXT = "start a compost heap with vegetable scraps and dry leaves in thin layers"


def test_edit_distance_counts_words_in_the_texts_language() -> None:
    # 2 of 13 words changed: kitchen → vegetable, and "thin" added
    assert edit_distance(MODEL_TEXT, EDITED_TEXT, language("en")) == pytest.approx(2 / 13)
    # Chinese is cut into jieba's words, not at spaces it does not write: one word of four
    # replaced (我们/喜欢/堆肥/花园 → 我们/喜欢/堆肥/菜园)
    assert edit_distance("我们喜欢堆肥花园", "我们喜欢堆肥菜园", language("zh")) == pytest.approx(0.25)
    assert edit_distance("", "", language("en")) == 0.0


def test_wilson_and_mean_intervals_by_hand() -> None:
    # 8 of 10: Wilson's 95 % interval is 0.4902 .. 0.9433
    assert rate(8, 10).to_json() == {"n": 10, "value": 0.8, "low": 0.4902, "high": 0.9433}
    assert rate(0, 0).to_json() == {"n": 0, "value": None, "low": None, "high": None}
    # mean of 1, 2, 3: sd 1, standard error 1/sqrt(3), so 2 ± 1.96 × 0.5774 = 0.8684 .. 3.1316
    assert mean([1.0, 2.0, 3.0]).to_json() == {"n": 3, "value": 2.0, "low": 0.8684,
                                               "high": 3.1316}
    assert mean([4.0]).to_json() == {"n": 1, "value": 4.0, "low": None, "high": None}


def simulate(ws: Workspace, *, briefs: int, seed: int) -> tuple[dict[int, list[dict]], int]:
    """`briefs` briefs of a profile on v1 testing v2 on half of them. Per brief, a seeded
    draw decides the gate (v2 passes more often), the reviewer (v2 approved more often) and,
    for approved ones, an edit and the engagement. Returns the plan per version id, and the
    profile's id."""
    v1, v2 = registered_version(ws, 1), registered_version(ws, 2)
    profile = factories.model_profile(ws, model=v1.folder)
    ct = factories.content_type(ws, model_profile=profile)
    QualityGate.objects.create(workspace=ws, name="Hard rules", content_type=ct,
                               max_regenerations=0,
                               rules=[{"metric": "banned_terms_found", "max": 0,
                                       "severity": "fail"}])
    model_profile_candidate_set(profile=profile, version=v2, share=0.5)
    reviewer, admin = factories.member(ws, Role.REVIEWER), factories.member(ws, Role.ADMIN)
    site = target_create(workspace=ws, name="site", kind="file", config={"folder": "site"})
    draw = random.Random(seed)
    plan: dict[int, list[dict]] = {v1.pk: [], v2.pk: []}
    for _ in range(briefs):
        brief = factories.brief(ws, ct=ct, submit=True, variants=1)
        job = brief.jobs.get()
        better = job.model_version_id == v2.pk
        outcome = {"passed": draw.random() < (0.9 if better else 0.6),
                   "approved": draw.random() < (0.8 if better else 0.5),
                   "edited": draw.random() < 0.5, "engagement": draw.randrange(0, 20)}
        plan[job.model_version_id].append(outcome)
        job_claim(job_id=job.pk, worker_id="w1")
        job_record_drafts(job_id=job.pk, worker_id="w1", texts=[GeneratedText(
            variant=0, text=MODEL_TEXT, seed=1, prompt_tokens=5, completion_tokens=12,
            model_name=v2.folder if better else v1.folder)])
        draft = job.drafts.get()
        evaluation_record(job_id=job.pk, scores=[DraftScore(
            draft_id=draft.pk, relevance=0.8, length_fit=1.0, score=0.8, embedding_model="m",
            metrics={"banned_terms_found": [] if outcome["passed"] else ["synergy"]})])
        brief.refresh_from_db()
        if not outcome["approved"]:
            review_reject(brief=brief, reviewer=reviewer)
            continue
        if outcome["edited"]:
            revision_edit(draft=draft, text=EDITED_TEXT, author=reviewer)
        # a draft breaking a hard rule is approved only by an admin, with a reason
        review_approve(brief=brief, draft_id=draft.pk,
                       reviewer=reviewer if outcome["passed"] else admin,
                       override_justification="" if outcome["passed"] else "Client's term.",
                       target_ids=[site.pk])
        publication = publication_claim(publication_id=brief.publications.get().pk,
                                        worker_id="io")
        publication_succeed(publication=publication, external_id=f"post-{brief.pk}")
        publication_engagement_record(publication_id=publication.pk,
                                      engagement={"likes": outcome["engagement"]})
    return plan, profile.pk


@pytest.mark.django_db
def test_the_comparison_on_a_seeded_simulation(
        ws: Workspace, django_assert_num_queries) -> None:
    # given 40 simulated briefs (seed 13) split between v1 and its candidate v2
    plan, profile_id = simulate(ws, briefs=40, seed=13)
    # when the versions are compared (eight queries whatever the number of jobs)
    with django_assert_num_queries(8):
        rows = model_version_comparison(workspace_id=ws.pk, profile_id=profile_id)
    # then each version's figures are the plan's counts, newest version first
    assert [r["number"] for r in rows] == [2, 1]
    assert rows[0]["candidate_of"] == ["Built-in"] and rows[1]["candidate_of"] == []
    one_edit = edit_distance(MODEL_TEXT, EDITED_TEXT, language("en"))
    for row in rows:
        outcomes = plan[row["version_id"]]
        approved = [o for o in outcomes if o["approved"]]
        assert row["jobs"] == len(outcomes)
        assert row["gate_pass_rate"] == rate(sum(o["passed"] for o in outcomes),
                                             len(outcomes)).to_json()
        assert row["approval_rate"] == rate(len(approved), len(outcomes)).to_json()
        assert row["edit_distance"] == mean(
            [one_edit if o["edited"] else 0.0 for o in approved]).to_json()
        assert row["engagement"] == mean([float(o["engagement"]) for o in approved]).to_json()
    # the figures for the closing note (pytest -s shows them)
    print(json.dumps([{k: r[k] for k in ("number", "jobs", "gate_pass_rate", "approval_rate",
                                         "edit_distance", "engagement")} for r in rows]))


@pytest.mark.django_db
def test_the_comparison_api_is_for_the_workspaces_admins(ws: Workspace) -> None:
    # given a simulated test in the workspace
    plan, profile_id = simulate(ws, briefs=6, seed=1)
    # when an admin asks for it, then it answers the selector's rows
    response = client_for(factories.member(ws, Role.ADMIN)).get(
        f"/api/v1/model-versions/comparison/?profile_id={profile_id}")
    assert response.status_code == 200, response.content
    assert sorted(r["jobs"] for r in response.json()) == sorted(len(p) for p in plan.values())
    # and a bad profile id is a clear 400
    bad = client_for(factories.member(ws, Role.ADMIN)).get(
        "/api/v1/model-versions/comparison/?profile_id=x")
    assert bad.status_code == 400 and "profile_id" in bad.json()
