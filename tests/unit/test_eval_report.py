"""eval_report: the gate's verdicts against reviewers' decisions, as HTML with plots and CSV."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from django.core.management import call_command

from apps.briefs.models import ContentBrief, ContentType
from apps.core.models import Workspace
from apps.evaluation.models import QualityGate
from apps.evaluation.report import point_biserial
from apps.evaluation.services import evaluation_record
from apps.generation.services import job_claim, job_record_drafts
from apps.reviews.services import review_approve, review_reject, review_request_changes
from tests import factories
from workers.evaluation.types import DraftScore
from workers.generation.types import GeneratedText

pytestmark = pytest.mark.django_db


def reviewed_job(ws: Workspace, ct: ContentType, *, score: float, banned: list[str]
                 ) -> ContentBrief:
    """A brief whose one-variant job was scored (as given) and gated, now in review."""
    brief = factories.brief(ws, ct, submit=True, variants=1)
    job = brief.jobs.get()
    job_claim(job_id=job.pk, worker_id="w1")
    job_record_drafts(job_id=job.pk, worker_id="w1", texts=[
        GeneratedText(variant=0, text="Start a compost heap.", seed=1, prompt_tokens=5,
                      completion_tokens=5, model_name="builtin")])
    evaluation_record(job_id=job.pk, scores=[DraftScore(
        draft_id=job.drafts.get().pk, relevance=score, length_fit=1.0, score=score,
        embedding_model="minilm", metrics={"banned_terms_found": banned,
                                           "keyword_coverage": score})])
    brief.refresh_from_db()
    return brief


def test_point_biserial_is_pearson_with_the_label() -> None:
    assert point_biserial([1.0, 2.0, 3.0, 4.0], [False, False, True, True]) == pytest.approx(
        0.8944271909999159)
    assert point_biserial([1.0, 1.0], [True, False]) is None
    assert point_biserial([1.0], [True]) is None


def test_eval_report_measures_the_gate_against_reviewers(tmp_path: Path) -> None:
    # Given four gated jobs: two passed the gate, two failed it (no regeneration allowed),
    # and a reviewer approved one of each pair
    ws = factories.workspace()
    ct = factories.content_type(ws, name="Newsletter")
    QualityGate.objects.create(workspace=ws, name="News", content_type=ct, max_regenerations=0,
                               rules=[{"metric": "banned_terms_found", "max": 0,
                                       "severity": "fail"}])
    reviewer = factories.member(ws, "reviewer")
    passed_approved = reviewed_job(ws, ct, score=0.9, banned=[])
    passed_rejected = reviewed_job(ws, ct, score=0.7, banned=[])
    failed_approved = reviewed_job(ws, ct, score=0.6, banned=["synergy"])
    failed_changes = reviewed_job(ws, ct, score=0.2, banned=["synergy"])
    for brief in (passed_approved, failed_approved):
        review_approve(brief=brief, draft_id=brief.drafts.get().pk, reviewer=reviewer)
    review_reject(brief=passed_rejected, reviewer=reviewer)
    review_request_changes(brief=failed_changes, reviewer=reviewer, feedback="Shorter.")
    # And an ungated job of another content type, never reviewed
    factories.brief_in_review(ws, scores=(0.5,))
    # When the report is written
    call_command("eval_report", out=tmp_path, workspace=ws.pk)
    # Then the CSV has one row per job with the gate's call and the reviewer's decision
    with (tmp_path / "eval_report.csv").open() as handle:
        rows = {int(r["brief_id"]): r for r in csv.DictReader(handle)}
    assert len(rows) == 5
    assert [(rows[b.pk]["gate_passed"], rows[b.pk]["reviewer_decision"])
            for b in (passed_approved, passed_rejected, failed_approved, failed_changes)] == [
        ("True", "approve"), ("True", "reject"), ("False", "approve"),
        ("False", "request_changes")]
    assert rows[passed_approved.pk]["content_type"] == "Newsletter"
    assert rows[passed_approved.pk]["score"] == "0.9"
    # And the HTML gives precision and recall of the gate (1 of 2 each) and the plots
    page = (tmp_path / "eval_report.html").read_text()
    assert "<td>gate passed</td><td>1</td><td>1</td>" in page
    assert "<td>gate failed</td><td>1</td><td>1</td>" in page
    assert "Precision 0.500" in page and "recall 0.500" in page
    # score 0.9, 0.7, 0.6, 0.2 against approve 1, 0, 1, 0
    expected = point_biserial([0.9, 0.7, 0.6, 0.2], [True, False, True, False])
    assert f"<tr><td>score</td><td>{expected:.3f}</td><td>4</td></tr>" in page
    assert "<tr><td>gate_passed</td><td>0.000</td><td>4</td></tr>" in page
    assert page.count("src='data:image/png;base64,") == 2
