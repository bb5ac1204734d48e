"""A Chinese brief through the evaluation task and the API: characters, matched keywords,
the lexical fallback, the workspace's own embedding model folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import Role
from apps.evaluation.models import Evaluation
from apps.evaluation.services import evaluation_settings_set
from apps.generation.models import GenerationJob, JobState
from apps.generation.services import job_claim, job_record_drafts
from apps.workflow.services import brief_submit
from tests import factories
from tests.clients import logged_in
from workers.evaluation import lexical
from workers.generation.types import GeneratedText
from workers.tasks.evaluation import evaluate_job

COMPOST_ZH = ("堆肥可以减少厨余垃圾，还能改善土壤。在家里做堆肥并不难，只需要一个有盖的桶和一些"
              "干树叶。每周翻动一次，三个月后就能得到肥沃的堆肥！")  # 59 characters
WORKER = "zh-test-worker"


def chinese_job() -> GenerationJob:
    ws = factories.workspace()
    brief = factories.brief(ws, title="在家堆肥入门", topic="如何用厨余垃圾在家里做堆肥",
                            keywords=["堆肥", "厨余垃圾"], language="zh-CN", target_length=60,
                            reference_texts=[COMPOST_ZH])
    brief_submit(brief=brief)
    job = GenerationJob.objects.get(brief=brief)
    assert job_claim(job_id=job.pk, worker_id=WORKER) is not None
    job_record_drafts(job_id=job.pk, worker_id=WORKER, texts=[
        GeneratedText(variant=0, text=COMPOST_ZH, seed=1, prompt_tokens=20, completion_tokens=80,
                      model_name="builtin")])
    return job


@pytest.mark.django_db(transaction=True)
def test_a_chinese_draft_is_measured_in_characters_with_its_keywords_found() -> None:
    # Given a Chinese brief's job with one draft
    job = chinese_job()
    # When the evaluation task scores it
    evaluate_job.apply(args=[job.pk], throw=True)
    # Then its length is 59 characters against 60, both keywords are found, ROUGE is 1.0
    evaluation = Evaluation.objects.get(draft__job=job)
    values = evaluation.metrics
    assert (values["length"], values["length_unit"], values["target_length"]) == (
        59, "characters", 60)
    assert values["keyword_coverage"] == 1.0 and values["keywords_missing"] == []
    assert values["rouge1"] == 1.0 and values["rougeL"] == 1.0
    # And relevance came from the labelled lexical fallback, not the English-only model
    assert evaluation.embedding_model == values["relevance_method"] == lexical.NAME
    assert evaluation.relevance > 0.3


@pytest.mark.django_db(transaction=True)
def test_the_workspace_embedding_model_folder_is_used(tmp_path: Path) -> None:
    # Given a workspace naming a model folder that holds no model
    ws = factories.workspace()
    evaluation_settings_set(workspace_id=ws.pk, embedding_model_dir=str(tmp_path))
    brief = factories.brief(ws, target_length=40)
    brief_submit(brief=brief)
    job = GenerationJob.objects.get(brief=brief)
    job_claim(job_id=job.pk, worker_id=WORKER)
    job_record_drafts(job_id=job.pk, worker_id=WORKER, texts=[
        GeneratedText(variant=0, text="Composting turns kitchen scraps into soil.", seed=1,
                      prompt_tokens=20, completion_tokens=10, model_name="builtin")])
    # When the evaluation task runs
    evaluate_job.apply(args=[job.pk], throw=True)
    # Then the job fails naming that folder
    job.refresh_from_db()
    assert job.state == JobState.FAILED
    assert job.error == (f"Evaluation failed: FileNotFoundError: No embedding model in "
                         f"{tmp_path}: config.json is missing.")
    # And the setting keeps auto-approve as it was when only the folder changes
    settings = evaluation_settings_set(workspace_id=ws.pk, embedding_model_dir="")
    assert (settings.auto_approve, settings.embedding_model_dir) == (False, "")


@pytest.mark.django_db
def test_the_api_says_which_unit_a_brief_length_counts() -> None:
    ws = factories.workspace()
    editor = factories.member(ws, Role.EDITOR)
    zh = factories.brief(ws, language="zh-CN", target_length=800)
    en = factories.brief(ws, language="en", target_length=300)
    client = APIClient()
    client.force_authenticate(editor)
    for brief, unit in ((zh, "characters"), (en, "words")):
        body = client.get(f"/api/v1/briefs/{brief.pk}/").json()
        assert (body["target_length"], body["length_unit"]) == (brief.target_length, unit)


@pytest.mark.django_db
def test_the_brief_page_shows_the_length_unit_and_says_when_the_builtin_model_wrote() -> None:
    # Given a Chinese brief whose drafts the built-in model wrote
    ws = factories.workspace()
    reviewer = factories.member(ws, Role.REVIEWER)
    brief = factories.brief_in_review(ws, language="zh-CN", target_length=800)
    # When a reviewer opens it
    html = logged_in(reviewer).get(f"/briefs/{brief.pk}/").content.decode()
    # Then the length is in characters and each draft says which model wrote it
    assert "<dd>800 characters · 2 variants · zh-CN</dd>" in html
    assert html.count("Written by the built-in demo model") == 2
