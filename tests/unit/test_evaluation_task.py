"""evaluation.evaluate_job on a job built through the real services, with the real model."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
from pytest_django import DjangoAssertNumQueries, Settings

from apps.briefs.models import BriefState, ContentBrief
from apps.core.models import AuditEvent, OutboxEvent
from apps.evaluation.models import Evaluation
from apps.evaluation.selectors import brief_text, scoring_inputs_for_job
from apps.generation.models import GenerationJob, JobState
from apps.generation.services import job_claim, job_record_drafts
from apps.workflow.services import brief_submit
from tests import factories
from workers.evaluation.types import ScoringInput
from workers.generation.types import GeneratedText
from workers.tasks.evaluation import evaluate_job

ON_TOPIC = (
    "Composting turns kitchen scraps into food for your garden. Pick a shady corner, set up a "
    "small bin, and layer vegetable peelings and coffee grounds with dry leaves. Keep the heap "
    "damp and turn it over every week or two."
)  # 40 words
OFF_TOPIC = (
    "The central bank raised its main interest rate by half a percentage point on Tuesday, "
    "citing stubborn inflation in services. Bond yields climbed and the currency strengthened "
    "against the dollar."
)  # 30 words
WORKER = "gpu-test-worker"


def drafted_job() -> GenerationJob:
    """A job in `evaluating` with two drafts, moved there by the generation services."""
    ws = factories.workspace()
    brief = factories.brief(ws, target_length=40)
    brief_submit(brief=brief)
    job = GenerationJob.objects.get(brief=brief)
    assert job_claim(job_id=job.pk, worker_id=WORKER) is not None
    texts = [
        GeneratedText(variant=0, text=ON_TOPIC, seed=11, prompt_tokens=30, completion_tokens=52,
                      model_name="builtin"),
        GeneratedText(variant=1, text=OFF_TOPIC, seed=12, prompt_tokens=30, completion_tokens=38,
                      model_name="builtin"),
    ]
    recorded = job_record_drafts(job_id=job.pk, worker_id=WORKER, texts=texts)
    assert recorded is not None and recorded.state == JobState.EVALUATING
    return job


@pytest.mark.django_db(transaction=True)
def test_evaluate_job_scores_drafts_and_sends_brief_to_review() -> None:
    # Given a job whose two drafts wait for evaluation
    job = drafted_job()
    # When the task runs
    evaluate_job.apply(args=[job.pk], throw=True)
    # Then each draft has an evaluation, the on-topic one ranked first
    evaluations = {e.draft.variant: e for e in Evaluation.objects.select_related("draft")
                   .filter(draft__job=job)}
    assert sorted(evaluations) == [0, 1]
    on, off = evaluations[0], evaluations[1]
    assert on.score > off.score
    assert on.relevance > off.relevance
    assert on.length_fit == 1.0
    assert off.length_fit == 2.0 ** -(math.log2(30 / 40) ** 2)
    assert on.metrics["word_count"] == 40 and off.metrics["word_count"] == 30
    assert on.embedding_model == "sentence-transformers/all-MiniLM-L6-v2"
    # And the job succeeded, the brief is in review, both by this worker
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED
    assert ContentBrief.objects.get(pk=job.brief_id).state == BriefState.IN_REVIEW
    succeeded = AuditEvent.objects.get(action="job.succeeded", subject_id=job.pk)
    assert succeeded.actor_label.endswith(f":{os.getpid()}")
    assert OutboxEvent.objects.filter(type="draft.evaluated", subject_type="draft").count() == 2

    # When the same message is delivered again
    before = (list(Evaluation.objects.order_by("id").values()), AuditEvent.objects.count(),
              OutboxEvent.objects.count())
    evaluate_job.apply(args=[job.pk], throw=True)
    # Then nothing new is written
    after = (list(Evaluation.objects.order_by("id").values()), AuditEvent.objects.count(),
             OutboxEvent.objects.count())
    assert after == before


@pytest.mark.django_db(transaction=True)
def test_evaluate_job_fails_the_job_when_the_model_is_missing(
    settings: Settings, tmp_path: Path
) -> None:
    # Given an embedding model folder with no model in it
    settings.EMBEDDING_MODEL_DIR = str(tmp_path)
    job = drafted_job()
    # When the task runs
    evaluate_job.apply(args=[job.pk], throw=True)
    # Then the job and its brief failed with a reason an editor can read, and nothing was scored
    job.refresh_from_db()
    assert job.state == JobState.FAILED
    assert job.error == (f"Evaluation failed: FileNotFoundError: No embedding model in "
                         f"{tmp_path.resolve()}: config.json is missing.")
    assert ContentBrief.objects.get(pk=job.brief_id).state == BriefState.FAILED
    assert not Evaluation.objects.filter(draft__job=job).exists()


@pytest.mark.django_db(transaction=True)
def test_evaluate_job_ignores_a_job_not_evaluating() -> None:
    # Given a job still queued for generation
    ws = factories.workspace()
    brief = factories.brief(ws)
    brief_submit(brief=brief)
    job = GenerationJob.objects.get(brief=brief)
    audits = AuditEvent.objects.count()
    # When an evaluation message for it arrives
    evaluate_job.apply(args=[job.pk], throw=True)
    # Then it is left as it was
    job.refresh_from_db()
    assert job.state == JobState.QUEUED
    assert AuditEvent.objects.count() == audits


@pytest.mark.django_db(transaction=True)
def test_scoring_inputs_for_job_reads_drafts_with_their_brief_in_one_query(
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    # Given a job with two drafts
    job = drafted_job()
    drafts = {d.variant: d.pk for d in job.drafts.all()}
    # When its scoring inputs are read
    with django_assert_num_queries(1):
        inputs = scoring_inputs_for_job(job.pk)
    # Then there is one per draft, by variant, carrying the brief's text and target
    expected_brief = ("Composting at home\nhow to start composting kitchen scraps in a small "
                      "garden\ncompost, garden")
    assert inputs == [
        ScoringInput(draft_id=drafts[0], brief_text=expected_brief, draft_text=ON_TOPIC,
                     target_length=40, keywords=("compost", "garden"), job_id=job.pk),
        ScoringInput(draft_id=drafts[1], brief_text=expected_brief, draft_text=OFF_TOPIC,
                     target_length=40, keywords=("compost", "garden"), job_id=job.pk),
    ]


def test_brief_text_skips_empty_parts() -> None:
    assert brief_text(title="Bike lights", topic=" ", keywords=["", "safety "]) == (
        "Bike lights\nsafety")
