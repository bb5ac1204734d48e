"""The dataset and model-registry pages: admins create datasets, import, build (followed
live), read a version's statistics, card and samples, train on it, cancel; compare, evaluate
on the test briefs, promote, roll back and archive model versions. Other roles are refused;
bad input is a form error."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.accounts.models import Role
from apps.datasets.models import Dataset, DatasetVersion, VersionState
from apps.datasets.services import dataset_version_build
from apps.generation.models import (
    GenerationQuota,
    ModelProfile,
    ModelVersion,
    SuiteRun,
    TrainingRun,
)
from apps.publishing.targets import target_create
from tests import factories
from tests.clients import logged_in

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return response.content.decode()


@pytest.mark.parametrize("role", [Role.EDITOR, Role.REVIEWER])
def test_other_roles_neither_see_nor_reach_the_pages(ws, role):
    member = factories.member(ws, role)
    client = logged_in(member)
    assert 'href="/datasets/"' not in text(client.get("/training/"))
    for path in ("/datasets/", "/models/"):
        assert client.get(path).status_code == 403
    assert client.post("/datasets/", {"name": "Mine"}).status_code == 403
    assert not Dataset.objects.filter(workspace=ws).exists()


def test_an_admin_creates_a_dataset_and_a_taken_name_is_a_form_error(ws, admin):
    client = logged_in(admin)
    assert 'href="/datasets/"' in text(client.get("/datasets/"))  # the nav links the page
    response = client.post("/datasets/", {"name": "Garden", "description": "our notes"})
    dataset = Dataset.objects.get(workspace=ws)
    assert (response.status_code, response["Location"]) == (302, f"/datasets/{dataset.pk}/")
    again = client.post("/datasets/", {"name": "Garden"})
    assert again.status_code == 400
    assert "already has a dataset called &#x27;Garden&#x27;" in text(again)


def test_imports_build_and_version_page(ws, admin, datasets_dir, garden_files):
    client = logged_in(admin)
    client.post("/datasets/", {"name": "Garden"})
    dataset = Dataset.objects.get(workspace=ws)
    page = f"/datasets/{dataset.pk}/"
    # an upload of each bundled file
    for name, data in garden_files.items():
        response = client.post(f"{page}import/", {"source": "upload",
                                                  "file": SimpleUploadedFile(name, data)})
        assert response.status_code == 302, text(response)
    # no file, no published revisions, a target that is not WordPress or Ghost: form errors
    assert "Choose a file to upload." in text(client.post(f"{page}import/", {"source": "upload"}))
    nothing = client.post(f"{page}import/", {"source": "published"})
    assert nothing.status_code == 400 and "no documents found" in text(nothing)
    site = target_create(workspace=ws, name="Files", kind="file", config={"folder": "site"})
    wrong = client.post(f"{page}import/", {"source": "target", "target": site.pk})
    assert wrong.status_code == 400 and "Select a valid choice" in text(wrong)
    listing = text(client.get(page))
    assert listing.count("<td>Uploaded file</td>") == len(garden_files)
    # options the service refuses come back on the form
    bad = client.post(f"{page}build/", {"min_chars": 500, "max_chars": 100, "seed": 1,
                                        "near_duplicate_threshold": 0.8, "validation_share": 0.1,
                                        "test_share": 0.2, "remove_boilerplate": "on"})
    assert bad.status_code == 400
    assert "&#x27;min_chars&#x27; must not be above &#x27;max_chars&#x27;" in text(bad)
    # a good build goes to its version's page, which follows it live
    response = client.post(f"{page}build/", {
        "min_chars": 150, "max_chars": 100_000, "languages": "en", "seed": 7,
        "near_duplicate_threshold": 0.8, "validation_share": 0, "test_share": 0.2,
        "remove_boilerplate": "on", "scrub_pii": "on"})
    version = DatasetVersion.objects.get(dataset=dataset)
    assert response["Location"] == f"/datasets/versions/{version.pk}/"
    assert version.options["languages"] == ["en"] and version.options["scrub_pii"] is True
    queued = text(client.get(response["Location"]))
    assert f'data-build-progress data-version-id="{version.pk}"' in queued
    assert f'data-version-url="/api/v1/dataset-versions/{version.pk}/"' in queued
    assert "datasets/build_progress.js" in queued and "Cancel build" in queued
    assert "Train on this version" not in queued
    # when the worker has built it: statistics, histogram, card, samples beside originals
    assert dataset_version_build(version_id=version.pk, worker_id="w") == "built"
    version.refresh_from_db()
    built = text(client.get(response["Location"]))
    assert "data-build-progress" not in built and "build_progress.js" not in built
    assert f"<dd>{version.stats['documents']} of {version.stats['documents_in']}</dd>" in built
    assert built.count('<svg class="bar"') == len(version.stats["length_histogram"])
    sample = version.samples[0]
    assert f"<pre>{sample['cleaned'][:40]}" in built and "Original" in built
    assert "Data card" in built and "Train on this version" in built


def built_version(ws, garden_files) -> DatasetVersion:
    dataset = Dataset.objects.create(workspace=ws, name="Garden")
    client_admin = factories.member(ws, Role.ADMIN)
    client = logged_in(client_admin)
    for name, data in garden_files.items():
        client.post(f"/datasets/{dataset.pk}/import/", {"source": "upload",
                                                        "file": SimpleUploadedFile(name, data)})
    client.post(f"/datasets/{dataset.pk}/build/", {
        "min_chars": 150, "max_chars": 100_000, "languages": "en", "seed": 7,
        "near_duplicate_threshold": 0.8, "validation_share": 0, "test_share": 0.2})
    version = DatasetVersion.objects.get(dataset=dataset)
    dataset_version_build(version_id=version.pk, worker_id="w")
    version.refresh_from_db()
    return version


def test_training_from_a_version_page_and_cancelling_the_run(ws, admin, datasets_dir,
                                                            garden_files):
    version = built_version(ws, garden_files)
    client = logged_in(admin)
    page = f"/datasets/versions/{version.pk}/"
    bad = client.post(f"{page}train/", {"kind": "finetune", "parameters": '{"steps": 0}'})
    assert bad.status_code == 400 and "&#x27;steps&#x27; must be a whole number" in text(bad)
    both = client.post(f"{page}train/", {"kind": "train", "base_model": "other-model"})
    assert both.status_code == 400 and "Only fine-tuning starts from a base" in text(both)
    response = client.post(f"{page}train/", {"kind": "finetune", "parameters": '{"steps": 30}'})
    run = TrainingRun.objects.get(workspace=ws)
    # the run's loss is drawn on the Training page's chart
    assert response["Location"] == f"/training/?run={run.pk}"
    assert (run.dataset_version_id, run.parameters) == (version.pk, {"steps": 30})
    listed = text(client.get(page))
    assert f'action="/training/runs/{run.pk}/cancel/"' in listed
    cancelled = client.post(f"/training/runs/{run.pk}/cancel/")
    assert cancelled["Location"] == page
    run.refresh_from_db()
    assert run.state == "cancelled"
    after = text(client.get(page))
    assert f"Training run {run.pk} is cancelled." in after
    assert f'action="/training/runs/{run.pk}/cancel/"' not in after
    # a run that ended cannot be cancelled: the page says why
    ended = client.post(f"/training/runs/{run.pk}/cancel/")
    assert ended.status_code == 409 and "cannot go from" in text(ended)


def test_a_queued_build_is_cancelled_from_its_page(ws, admin, datasets_dir, garden_files):
    dataset = Dataset.objects.create(workspace=ws, name="Garden")
    client = logged_in(admin)
    name, data = next(iter(garden_files.items()))
    client.post(f"/datasets/{dataset.pk}/import/", {"source": "upload",
                                                    "file": SimpleUploadedFile(name, data)})
    client.post(f"/datasets/{dataset.pk}/build/", {
        "min_chars": 10, "max_chars": 100_000, "seed": 0, "near_duplicate_threshold": 0.8,
        "validation_share": 0.1, "test_share": 0.1})
    version = DatasetVersion.objects.get(dataset=dataset)
    response = client.post(f"/datasets/versions/{version.pk}/cancel/")
    assert response["Location"] == f"/datasets/versions/{version.pk}/"
    version.refresh_from_db()
    assert version.state == VersionState.CANCELLED
    assert "is cancelled" in text(client.get(response["Location"]))
    assert client.post(f"/datasets/versions/{version.pk}/cancel/").status_code == 409


def model_version(ws, number: int, perplexity: float) -> ModelVersion:
    return factories.model_version(ws, number, metrics={"heldout_perplexity_before": 40.0,
                                                        "heldout_perplexity_after": perplexity})


def test_the_registry_compares_promotes_rolls_back_and_archives(ws, admin,
                                                                django_assert_max_num_queries):
    first, second = model_version(ws, 1, 30.5), model_version(ws, 2, 25.25)
    profile = factories.model_profile(ws, name="House")
    factories.model_profile(ws, name="Remote", backend="openai", model="gpt",
                            base_url="https://example.com/v1")
    client = logged_in(admin)
    # (the retrain schedule's form adds its policy and three lists of choices)
    with django_assert_max_num_queries(15):
        listing = text(client.get("/models/"))
    assert 'href="/models/"' in listing
    assert "25.25" in listing and "30.50" in listing
    assert f'<option value="{profile.pk}">House</option>' in listing
    assert ">Remote</option>" not in listing  # a model server's profile takes no version
    # side by side, in the order ticked
    compared = text(client.get("/models/", {"compare": [second.pk, first.pk]}))
    heads = re.findall(r'<th scope="col">v(\d)</th>', compared)
    assert heads == ["2", "1"]
    alone = client.get("/models/", {"compare": [first.pk]})
    assert alone.status_code == 400 and "Compare 2 to 10 versions" in text(alone)
    # promote, then roll back
    response = client.post(f"/models/{second.pk}/promote/", {"profile": profile.pk})
    assert response["Location"] == "/models/"
    profile.refresh_from_db()
    assert profile.model == second.folder
    page = text(client.get("/models/"))
    assert "House now runs version 2." in page
    assert f'action="/models/profiles/{profile.pk}/rollback/"' in page
    # a version in use is not archived: the page says why
    in_use = client.post(f"/models/{second.pk}/archive/")
    assert in_use.status_code == 400 and "in use by House" in text(in_use)
    client.post(f"/models/profiles/{profile.pk}/rollback/")
    profile.refresh_from_db()
    assert profile.model == ""
    assert client.post(f"/models/{second.pk}/archive/")["Location"] == "/models/"
    second.refresh_from_db()
    assert second.archived_at is not None
    refused = client.post(f"/models/{second.pk}/promote/", {"profile": profile.pk})
    assert refused.status_code == 400 and "archived" in text(refused)
    # the list's queries do not grow with its rows
    for number in range(3, 8):
        model_version(ws, number, 20.0)
    with django_assert_max_num_queries(15):
        client.get("/models/")


def test_an_admin_evaluates_a_version_on_the_test_briefs_and_cancels_it(
        ws, admin, django_assert_max_num_queries):
    version = model_version(ws, 1, 30.5)
    client = logged_in(admin)
    # a version never evaluated offers the button
    page = text(client.get("/models/"))
    assert f'action="/models/{version.pk}/evaluate/"' in page
    # when the admin asks for a run, it is queued as over the API, and its row says so
    response = client.post(f"/models/{version.pk}/evaluate/")
    assert response["Location"] == "/models/"
    run = SuiteRun.objects.get(version=version)
    assert run.state == "queued"
    page = text(client.get("/models/"))
    assert "Version 1 is queued for the test briefs." in page
    assert (f'<span class="state state-queued" data-suite-run="{run.pk}" '
            f'data-suite-url="/api/v1/model-versions/{version.pk}/evaluate/">queued</span>'
            in page)
    assert f'action="/models/{version.pk}/evaluate/cancel/"' in page
    assert f'action="/models/{version.pk}/evaluate/"' not in page
    # a second run while one is queued is refused with the reason
    again = client.post(f"/models/{version.pk}/evaluate/")
    assert again.status_code == 400 and "being evaluated already" in text(again)
    # cancelled, the row offers the button again; cancelling twice is refused
    assert client.post(f"/models/{version.pk}/evaluate/cancel/")["Location"] == "/models/"
    run.refresh_from_db()
    assert run.state == "cancelled"
    page = text(client.get("/models/"))
    assert "The evaluation of version 1 is cancelled." in page
    assert f'action="/models/{version.pk}/evaluate/"' in page
    assert client.post(f"/models/{version.pk}/evaluate/cancel/").status_code == 409
    # a finished run's figures and a failed one's reason are shown in the row
    SuiteRun.objects.create(version=version, state="failed", error="Its worker stopped.")
    other = model_version(ws, 2, 25.0)
    other.metrics["suite"] = {"score": 0.4567, "gate_pass_rate": 0.6667}
    other.save()
    SuiteRun.objects.create(version=other, state="succeeded")
    with django_assert_max_num_queries(15):
        page = text(client.get("/models/"))
    assert "Its worker stopped." in page
    assert "score 0.457, 67 % passed" in page
    # a spent monthly budget refuses a run with the reason, and queues nothing
    GenerationQuota.objects.create(workspace=ws, monthly_tokens=0)
    spent = client.post(f"/models/{other.pk}/evaluate/")
    assert spent.status_code == 429 and "monthly budget of tokens" in text(spent)
    assert SuiteRun.objects.filter(version=other).count() == 1


@pytest.mark.parametrize("role", [Role.EDITOR, Role.REVIEWER])
def test_other_roles_neither_evaluate_nor_cancel(ws, role):
    version = model_version(ws, 1, 30.5)
    SuiteRun.objects.create(version=version)
    client = logged_in(factories.member(ws, role))
    assert client.post(f"/models/{version.pk}/evaluate/").status_code == 403
    assert client.post(f"/models/{version.pk}/evaluate/cancel/").status_code == 403
    assert list(SuiteRun.objects.values_list("state", flat=True)) == ["queued"]


def test_another_workspaces_version_is_not_found(ws, admin):
    theirs = model_version(factories.workspace(), 1, 10.0)
    profile = factories.model_profile(ws, name="House")
    client = logged_in(admin)
    assert client.post(f"/models/{theirs.pk}/promote/",
                       {"profile": profile.pk}).status_code == 404
    assert client.get("/models/", {"compare": [theirs.pk, theirs.pk]}).status_code == 400
    assert client.post(f"/models/{theirs.pk}/evaluate/").status_code == 404
    assert not SuiteRun.objects.exists()
    assert ModelProfile.objects.get(pk=profile.pk).model == ""
