"""Feedback into training data: approved revisions (reviewers' edits included) imported into
a dataset, the drafts passed over kept as preference pairs beside them, not as documents,
the best received weighted twice through the build and into the training corpus."""

from __future__ import annotations

import pytest

from apps.accounts.models import Role
from apps.briefs.models import ContentBrief
from apps.core.errors import DomainError
from apps.core.models import Workspace
from apps.datasets.services import (
    dataset_create,
    dataset_import_approved,
    dataset_version_build,
    dataset_version_create,
    dataset_version_train,
    import_path,
    import_preferences_path,
    split_path,
    version_preferences,
)
from apps.generation.models import TrainingRun
from apps.generation.training import training_corpus
from apps.publishing.services import (
    publication_claim,
    publication_engagement_record,
    publication_succeed,
)
from apps.publishing.targets import target_create
from apps.reviews.services import revision_edit
from apps.workflow.services import review_approve, review_reject
from tests import factories
from tests.clients import client_for
from workers.datasets.store import jsonl_read

EDITED = ("Start a compost heap in a sunny corner. Layer green kitchen scraps with brown dry "
          "leaves, keep it as damp as a wrung sponge, and turn it every fortnight.")


def reviewed(ws: Workspace) -> ContentBrief:
    return factories.brief_in_review(ws, scores=(0.8,))


@pytest.mark.django_db
def test_approved_revisions_with_edits_become_weighted_documents(ws: Workspace, datasets_dir
                                                                ) -> None:
    # given three briefs: one approved after a reviewer's edit and published to a post that
    # drew 9 likes, one approved as the model wrote it, published with 1 like, one rejected
    reviewer = factories.member(ws, Role.REVIEWER)
    site = target_create(workspace=ws, name="site", kind="file", config={"folder": "site"})
    edited, as_written, rejected = reviewed(ws), reviewed(ws), reviewed(ws)
    revision_edit(draft=edited.drafts.get(), text=EDITED, author=reviewer)
    for brief, likes in ((edited, 9), (as_written, 1)):
        review_approve(brief=brief, draft_id=brief.drafts.get().pk, reviewer=reviewer,
                       target_ids=[site.pk])
        publication = publication_claim(publication_id=brief.publications.get().pk,
                                        worker_id="io")
        publication_succeed(publication=publication, external_id=f"post-{brief.pk}")
        publication_engagement_record(publication_id=publication.pk,
                                      engagement={"likes": likes})
    review_reject(brief=rejected, reviewer=reviewer)
    # when the approved revisions are imported into a dataset (through the API)
    dataset = dataset_create(workspace=ws, name="Feedback")
    response = client_for(factories.member(ws, Role.ADMIN)).post(
        f"/api/v1/datasets/{dataset.pk}/imports/", {"source": "approved"}, format="json")
    assert response.status_code == 201, response.content
    item = dataset.imports.get()
    # then it holds the text approved as written and the edited text (oldest revision
    # first), not the rejected draft's; the most engaged (top quarter of two: the 9 likes)
    # weighted twice
    rows = list(jsonl_read(import_path(item)))
    latest = {b.pk: b.drafts.get().revisions.order_by("number").last()
              for b in (edited, as_written, rejected)}
    assert [(r["id"], r["text"], r.get("weight", 1)) for r in rows] == [
        (f"approved:{latest[as_written.pk].pk}", as_written.drafts.get().text, 1),
        (f"approved:{latest[edited.pk].pk}", EDITED, 2)]
    assert latest[edited.pk].number == 2
    assert f"approved:{latest[rejected.pk].pk}" not in {r["id"] for r in rows}
    assert (item.source, item.documents) == ("approved", 2)


@pytest.mark.django_db
def test_the_weight_survives_the_build_and_repeats_in_training(ws: Workspace, datasets_dir,
                                                               garden_files) -> None:
    # given a reviewer's edit approved and published with engagement, the only approved text
    reviewer = factories.member(ws, Role.REVIEWER)
    site = target_create(workspace=ws, name="site", kind="file", config={"folder": "site"})
    brief = reviewed(ws)
    revision_edit(draft=brief.drafts.get(), text=EDITED, author=reviewer)
    review_approve(brief=brief, draft_id=brief.drafts.get().pk, reviewer=reviewer,
                   target_ids=[site.pk])
    publication = publication_claim(publication_id=brief.publications.get().pk, worker_id="io")
    publication_succeed(publication=publication, external_id="post-1")
    publication_engagement_record(publication_id=publication.pk, engagement={"likes": 3})
    # when it is imported, built with every document in train and test, and trained on
    dataset = dataset_create(workspace=ws, name="Feedback")
    dataset_import_approved(dataset=dataset)
    version = dataset_version_create(dataset=dataset, options={
        "min_chars": 50, "validation_share": 0.0, "test_share": 0.0})
    assert dataset_version_build(version_id=version.pk, worker_id="w") == "built"
    version.refresh_from_db()
    # then the built document (titled by the build) keeps its weight of 2
    document = f"{brief.title}\n\n{EDITED}"
    train_rows = list(jsonl_read(datasets_dir / "workspaces" / str(ws.pk)
                                 / f"dataset-{dataset.pk}" / "v1" / "train.jsonl"))
    assert [(r["text"], r["weight"]) for r in train_rows] == [(document, 2)]
    # and a run's corpus reader sees it twice (this version has no test split, so a run on
    # it is refused; the reader is what applies the weight)
    with pytest.raises(DomainError, match="test split"):
        dataset_version_train(version=version, kind="finetune")
    run = TrainingRun(workspace_id=ws.pk, data_path=f"workspaces/{ws.pk}/dataset-{dataset.pk}/v1")
    assert training_corpus(run) == ([document, document], [])


@pytest.mark.django_db
def test_passed_over_drafts_become_preference_pairs_kept_by_the_build(ws: Workspace,
                                                                      datasets_dir) -> None:
    # given a brief whose first variant a reviewer edited and approved, one whose second
    # variant was approved as written, and one rejected outright (two variants each)
    reviewer = factories.member(ws, Role.REVIEWER)
    edited, as_written, rejected = (factories.brief_in_review(ws) for _ in range(3))
    first, second = edited.drafts.order_by("variant")
    revision_edit(draft=first, text=EDITED, author=reviewer)
    review_approve(brief=edited, draft_id=first.pk, reviewer=reviewer)
    loser, winner = as_written.drafts.order_by("variant")
    review_approve(brief=as_written, draft_id=winner.pk, reviewer=reviewer)
    review_reject(brief=rejected, reviewer=reviewer)
    # when the approved revisions are imported and built
    dataset = dataset_create(workspace=ws, name="Feedback")
    item = dataset_import_approved(dataset=dataset)
    version = dataset_version_create(dataset=dataset, options={"min_chars": 10,
                                                               "scrub_pii": True})
    assert dataset_version_build(version_id=version.pk, worker_id="w") == "built"
    version.refresh_from_db()
    # then the edit is chosen over the model's own text and over the other variant, the
    # approved variant over the one passed over, each with the prompt the model was given;
    # the rejected brief gives no pair (nothing of it was chosen)
    approved_edit = first.revisions.get(number=2)
    expected = [(f"approved:{approved_edit.pk}", first.job.prompt, EDITED, first.text),
                (f"approved:{approved_edit.pk}", first.job.prompt, EDITED, second.text),
                (f"approved:{winner.revisions.get().pk}", winner.job.prompt, winner.text,
                 loser.text)]
    assert sorted((r["id"], r["prompt"], r["chosen"], r["rejected"])
                  for r in jsonl_read(import_preferences_path(item))) == sorted(expected)
    kept = list(version_preferences(version))
    assert sorted((r["id"], r["chosen"], r["rejected"]) for r in kept) == sorted(
        (pair_id, chosen, rejected) for pair_id, _, chosen, rejected in expected)
    assert all(r["prompt"].strip() for r in kept)
    # and the statistics and the data card count them, saying the built-in training does
    # not read them while the documents stay the approved texts alone
    assert version.stats["preference_pairs"] == 3
    assert "3 pairs in preferences.jsonl" in version.card
    assert version.stats["documents_in"] == 2
    texts = [row["text"] for split in ("train", "validation", "test")
             for row in jsonl_read(split_path(version, split))]
    assert sorted(t.split("\n\n")[-1] for t in texts) == sorted([EDITED, winner.text])
