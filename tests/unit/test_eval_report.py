"""eval_report: the gate's verdicts against reviewers' decisions, as HTML with plots and CSV."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
from django.core.management import call_command
from scipy.stats import spearmanr

from apps.briefs.models import ContentBrief, ContentType
from apps.core.models import Workspace
from apps.evaluation.models import QualityGate
from apps.evaluation.report import point_biserial, ranks, spearman
from apps.evaluation.services import evaluation_record
from apps.generation.services import job_claim, job_record_drafts
from apps.publishing.models import PublishingTarget
from apps.publishing.selectors import gate_report_rows
from apps.publishing.services import publication_claim, publication_engagement_record, publication_succeed
from apps.publishing.targets import target_create
from apps.workflow.services import review_approve, review_reject, review_request_changes
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
    review_approve(brief=passed_approved, draft_id=passed_approved.drafts.get().pk,
                   reviewer=reviewer)
    # (a draft breaking a hard rule is approved only by an admin, with a justification)
    review_approve(brief=failed_approved, draft_id=failed_approved.drafts.get().pk,
                   reviewer=factories.member(ws, "admin"),
                   override_justification="The term is the client's product name.")
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


def test_spearman_ranks_ties_as_their_mean_rank() -> None:
    assert ranks([7.0, 0.0, 7.0, 3.0]) == [3.5, 1.0, 3.5, 2.0]
    assert spearman([1.0, 2.0, 3.0], [10.0, 20.0, 15.0]) == pytest.approx(0.5)
    assert spearman([1.0, 2.0], [5.0, 5.0]) is None
    assert spearman([1.0], [5.0]) is None


def published_job(ws: Workspace, ct: ContentType, targets: list[PublishingTarget], *,
                  score: float, engagement: list[dict[str, int]]) -> ContentBrief:
    """A scored job approved to `targets` and published there, each post then pulled with
    the engagement given for it (an empty dict: the target counted nothing)."""
    brief = reviewed_job(ws, ct, score=score, banned=[])
    review_approve(brief=brief, draft_id=brief.drafts.get().pk,
                   reviewer=factories.member(ws, "reviewer"), target_ids=[t.pk for t in targets])
    for target, counts in zip(targets, engagement, strict=True):
        publication = publication_claim(
            publication_id=brief.publications.get(target=target).pk, worker_id="io")
        publication_succeed(publication=publication, external_id=f"post-{brief.pk}")
        publication_engagement_record(publication_id=publication.pk, engagement=counts)
    return brief


def test_eval_report_ranks_scores_against_audience_engagement(
        tmp_path: Path, django_assert_num_queries) -> None:
    # Given six published newsletters scored 0.9 .. 0.4 whose posts drew 18, 20, 7, 7, 3 and 0
    # reactions in all (the first on two targets: 10 + 5 + 3 on one, nothing counted on the
    # other; the second's 20 are 12 favourites, 6 boosts and 2 replies)
    ws = factories.workspace()
    news = factories.content_type(ws, name="Newsletter")
    posts = factories.content_type(ws, name="Post")
    site, social = (target_create(workspace=ws, name=name, kind="file", config={"folder": name})
                    for name in ("site", "social"))
    briefs = [published_job(ws, news, [site, social], score=0.9,
                            engagement=[{"likes": 10, "shares": 5, "replies": 3}, {}])]
    for score, total in ((0.8, None), (0.7, 7), (0.6, 7), (0.5, 3), (0.4, 0)):
        counts = {"likes": 12, "shares": 6, "replies": 2} if total is None else {"replies": total}
        briefs.append(published_job(ws, news, [social], score=score, engagement=[counts]))
    # And two posts of another type, scored 0.3 and 0.2, with 40 clicks + 2 signups and 1 reply
    briefs.append(published_job(ws, posts, [social], score=0.3,
                                engagement=[{"clicks": 40, "signups": 2}]))
    briefs.append(published_job(ws, posts, [social], score=0.2, engagement=[{"replies": 1}]))
    # And a newsletter published where nothing is counted, and one never published
    briefs.append(published_job(ws, news, [site], score=0.95, engagement=[{}]))
    briefs.append(reviewed_job(ws, news, score=0.1, banned=[]))
    # When the report's rows are read, then their engagement costs one query for all jobs
    with django_assert_num_queries(3):
        rows = gate_report_rows(workspace_id=ws.pk)
    assert [r["engagement"] for r in sorted(rows, key=lambda r: r["job_id"])] == [
        18, 20, 7, 7, 3, 0, 42, 1, None, None]
    # And when the report is written
    call_command("eval_report", out=tmp_path, workspace=ws.pk)
    # Then the CSV gives each job its total engagement, empty without engagement data
    with (tmp_path / "eval_report.csv").open() as handle:
        csv_rows = {int(r["brief_id"]): r for r in csv.DictReader(handle)}
    assert [csv_rows[b.pk]["engagement"] for b in briefs] == [
        "18", "20", "7", "7", "3", "0", "42", "1", "", ""]
    # And the HTML gives the rank correlation of each metric with engagement, over the eight
    # jobs with engagement data and over the six newsletters (posts are fewer than five).
    # By hand: score ranks 8..1 against engagement ranks 6, 7, 4.5, 4.5, 3, 1, 8, 2 give
    # 17.5 / sqrt(42 * 41.5); the newsletters' 6..1 against 5, 6, 3.5, 3.5, 2, 1 give
    # 16 / sqrt(17.5 * 17).
    overall, newsletters = 17.5 / math.sqrt(42 * 41.5), 16 / math.sqrt(17.5 * 17)
    scores, totals = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2], [18, 20, 7, 7, 3, 0, 42, 1]
    assert spearmanr(scores, totals).statistic == pytest.approx(overall)
    assert spearmanr(scores[:6], totals[:6]).statistic == pytest.approx(newsletters)
    page = (tmp_path / "eval_report.html").read_text()
    section = page[page.index("<h2>Scores vs audience engagement</h2>"):]
    assert "<h3>All content types: 8 jobs with engagement</h3>" in section
    assert "<h3>Content type Newsletter: 6 jobs with engagement</h3>" in section
    assert "Content type Post" not in section
    assert section.count(f"<tr><td>score</td><td>{overall:.3f}</td><td>8</td></tr>") == 1
    assert section.count(f"<tr><td>relevance</td><td>{overall:.3f}</td><td>8</td></tr>") == 1
    assert section.count(f"<tr><td>score</td><td>{newsletters:.3f}</td><td>6</td></tr>") == 1
    # (every length fit is 1.0: no spread; no job measured grounding)
    assert "<tr><td>length_fit</td><td>n/a</td><td>8</td></tr>" in section
    assert "<tr><td>grounding</td><td>n/a</td><td>0</td></tr>" in section
    # And the scatter plot joins the other two
    assert page.count("src='data:image/png;base64,") == 3
    assert "<h2>Score against audience engagement</h2>" in page
