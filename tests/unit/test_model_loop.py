"""The loop end to end, as a workspace admin drives it over the API and the workers' tasks run
it (each task's own code, in this process): the bundled garden corpus imported and built,
a model fine-tuned on it, the version evaluated on the test briefs and promoted to the
profile of a content type; a brief of that content type is then written by the promoted
version and scored."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.accounts.models import Role
from apps.briefs.models import BriefState
from apps.datasets.tasks import build
from apps.generation.models import GenerationJob, ModelVersion, SuiteRun
from tests import factories
from tests.clients import client_for
from tests.unit.test_model_registry import FINETUNE, garden_zip
from workers.tasks.evaluation import evaluate_job
from workers.tasks.generation import evaluate_version, run_job, train

pytestmark = pytest.mark.django_db(transaction=True)

def test_import_build_train_evaluate_promote_and_write_a_brief_with_the_new_version(
        models_dir, datasets_dir, garden_files) -> None:
    # given a workspace whose blog posts are written by a profile on the built-in model
    ws = factories.workspace()
    api = client_for(factories.member(ws, Role.ADMIN))
    profile = factories.model_profile(ws, name="Garden writer", model="builtin",
                                      parameters={"max_new_tokens": 24})
    blog = factories.content_type(ws, model_profile=profile)
    # when the admin imports the bundled corpus and builds it (the build task cleans it)
    dataset = api.post("/api/v1/datasets/", {"name": "Garden"}, format="json").json()
    upload = SimpleUploadedFile("garden.zip", garden_zip(garden_files))
    imported = api.post(f"/api/v1/datasets/{dataset['id']}/imports/", {"file": upload},
                        format="multipart")
    assert imported.status_code == 201, imported.content
    asked = api.post(f"/api/v1/datasets/{dataset['id']}/build/", {"options": {
        "min_chars": 150, "languages": ["en"], "seed": 7, "test_share": 0.2}}, format="json")
    assert asked.status_code == 201, asked.content
    assert build.apply(args=(asked.json()["id"],)).get() == "built"
    built = api.get(f"/api/v1/dataset-versions/{asked.json()['id']}/").json()
    assert built["state"] == "succeeded" and built["stats"]["duplicates_removed"] > 0
    # and fine-tunes the built-in model on it (the generation worker's task trains it)
    started = api.post(f"/api/v1/dataset-versions/{built['id']}/train/",
                       {"kind": "finetune", "parameters": FINETUNE}, format="json")
    assert started.status_code == 201, started.content
    assert train.apply(args=(started.json()["id"],)).get() == "trained"
    version = ModelVersion.objects.get(training_run_id=started.json()["id"])
    assert (version.metrics["heldout_perplexity_after"]
            < version.metrics["heldout_perplexity_before"])
    # then the new version's evaluation suite was queued, and a worker records its figures
    suite = SuiteRun.objects.get(version=version)
    assert evaluate_version.apply(args=(suite.pk,)).get() == "recorded"
    listed = api.get(f"/api/v1/model-versions/{version.pk}/").json()
    assert listed["metrics"]["suite"]["briefs"] == 3
    # when the admin promotes the version to the content type's profile
    promoted = api.post(f"/api/v1/model-versions/{version.pk}/promote/",
                        {"profile_id": profile.pk}, format="json")
    assert promoted.status_code == 200, promoted.content
    # and an editor's brief of that content type is submitted, written and scored by the
    # workers' tasks
    brief = factories.brief(ws, blog, submit=True)
    job = GenerationJob.objects.get(brief=brief)
    assert run_job.apply(args=(job.pk,)).get() == "recorded"
    evaluate_job.apply(args=(job.pk,), throw=True)
    # then every draft was written by the promoted version's weights, and the brief waits
    # for a reviewer
    drafts = list(job.drafts.all())
    assert drafts and all(d.model_revision == version.revision for d in drafts)
    assert all(d.model_name.endswith(f"/workspaces/{ws.pk}/{version.folder}") for d in drafts)
    brief.refresh_from_db()
    assert brief.state == BriefState.IN_REVIEW
