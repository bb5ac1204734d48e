"""Datasets per workspace: imports from every source, a build with live progress, immutable
versions, the API for admins only, and the wall between workspaces."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from apps.accounts.models import Role
from apps.core.errors import DomainError
from apps.core.models import AuditEvent
from apps.core.realtime import admins_group
from apps.datasets.models import DatasetImport, DatasetVersion, ImportState, VersionState
from apps.datasets.services import (
    dataset_create,
    dataset_import_feeds,
    dataset_import_published,
    dataset_import_target,
    dataset_import_target_run,
    dataset_import_upload,
    dataset_version_build,
    dataset_version_create,
    dataset_versions_requeue_stale,
    split_path,
    version_dir,
)
from apps.integrations.models import FeedEntry
from apps.integrations.sources import feed_create
from apps.publishing.connectors.wordpress import WordPressConnector
from apps.publishing.models import TargetKind
from apps.publishing.selectors import published_texts
from apps.publishing.services import publication_claim, publication_succeed
from apps.publishing.targets import target_create
from tests import factories
from tests.clients import client_for
from tests.generation_fixtures import receive_all
from tests.http_peers import HttpPeer, Reply
from tests.peers.content import approved_publications
from tests.peers.ghost import GhostPeer

pytestmark = pytest.mark.django_db
OPTIONS = {"min_chars": 150, "languages": ["en"], "scrub_pii": True, "seed": 7,
           "validation_share": 0.2, "test_share": 0.2}


def garden_zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_an_admin_builds_a_version_of_the_garden_corpus_over_the_api(
        ws, admin, datasets_dir, garden_files):
    api = client_for(admin)
    # given a dataset, and the garden corpus uploaded as one zip
    created = api.post("/api/v1/datasets/", {"name": "Garden", "description": "Our archive"},
                       format="json")
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    upload = SimpleUploadedFile("garden.zip", garden_zip(garden_files))
    imported = api.post(f"/api/v1/datasets/{pk}/imports/", {"file": upload}, format="multipart")
    assert imported.status_code == 201, imported.content
    assert (imported.json()["source"], imported.json()["documents"]) == ("upload", 11)
    # when a version is built (the worker's task body), its progress broadcast live to the
    # workspace's admins alone (every member's group hears none of it)
    built = api.post(f"/api/v1/datasets/{pk}/build/", {"options": OPTIONS}, format="json")
    assert built.status_code == 201, built.content
    assert (built.json()["number"], built.json()["state"]) == (1, "queued")
    layer = get_channel_layer()
    admins, members = (async_to_sync(layer.new_channel)() for _ in range(2))
    async_to_sync(layer.group_add)(admins_group(ws.pk), admins)
    async_to_sync(layer.group_add)(f"workspace.{ws.pk}", members)
    assert dataset_version_build(version_id=built.json()["id"], worker_id="w1") == "built"
    assert dataset_version_build(version_id=built.json()["id"], worker_id="w2") == "skipped"
    progress = [m["event"]["data"] for m in receive_all(admins)
                if m["event"]["type"] == "dataset.progress"]
    assert progress[-1] == {"dataset_version_id": built.json()["id"], "dataset_id": pk,
                            "documents_done": 11, "documents": 11, "progress": 1.0}
    assert [m for m in receive_all(members) if m["event"]["type"] == "dataset.progress"] == []
    # then the version holds its stats, card and samples, and its split files
    version = api.get(f"/api/v1/dataset-versions/{built.json()['id']}/").json()
    assert (version["state"], version["progress"]) == ("succeeded", 1.0)
    assert version["stats"]["documents"] == 7
    assert version["stats"]["dropped"]["near_duplicates"] == 1
    assert "| near-duplicates | 1 |" in version["card"]
    assert version["samples"][0]["cleaned"].startswith("Making compost")
    row = DatasetVersion.objects.get(pk=version["id"])
    counts = {split: sum(1 for _ in split_path(row, split).open())
              for split in ("train", "validation", "test")}
    assert counts == {"train": 5, "validation": 1, "test": 1}
    assert (version_dir(row) / "README.md").read_text() == version["card"]
    assert str(version_dir(row)).startswith(str(datasets_dir / "workspaces" / str(ws.pk)))
    detail = api.get(f"/api/v1/datasets/{pk}/").json()
    assert [v["number"] for v in detail["versions"]] == [1]
    assert AuditEvent.objects.filter(workspace=ws, action__startswith="dataset.").count() == 3


def test_a_version_is_immutable_later_imports_make_a_new_one(ws, admin, datasets_dir,
                                                            garden_files):
    dataset = dataset_create(workspace=ws, name="Garden")
    dataset_import_upload(dataset=dataset, filename="questions.csv",
                          data=garden_files["questions.csv"])
    first = dataset_version_create(dataset=dataset, options={"min_chars": 100})
    dataset_version_build(version_id=first.pk, worker_id="w")
    train_before = split_path(first, "train").read_bytes()
    dataset_import_upload(dataset=dataset, filename="notes.jsonl",
                          data=garden_files["notes.jsonl"])
    second = dataset_version_create(dataset=dataset, options={"min_chars": 100})
    dataset_version_build(version_id=second.pk, worker_id="w")
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.number, second.number) == (1, 2)
    assert (first.stats["documents_in"], second.stats["documents_in"]) == (2, 6)
    assert split_path(first, "train").read_bytes() == train_before
    assert len(first.import_ids) == 1 and len(second.import_ids) == 2


def test_build_options_are_checked_in_one_place(ws, datasets_dir, garden_files):
    dataset = dataset_create(workspace=ws, name="Garden")
    with pytest.raises(DomainError, match="Import documents into the dataset before"):
        dataset_version_create(dataset=dataset)
    dataset_import_upload(dataset=dataset, filename="questions.csv",
                          data=garden_files["questions.csv"])
    with pytest.raises(DomainError) as refused:
        dataset_version_create(dataset=dataset, options={
            "min_chars": -1, "languages": "en", "scrub_pii": "yes", "colour": "red"})
    assert str(refused.value) == (
        "Unknown option 'colour'; known: languages, max_chars, min_chars, "
        "near_duplicate_threshold, remove_boilerplate, scrub_pii, seed, test_share, "
        "validation_share. 'min_chars' must be a whole number from 0 to 1e+07. "
        "'scrub_pii' must be true or false. 'languages' must be a list of two-letter ISO "
        "639-1 codes, e.g. [\"en\"].")
    # a build that keeps nothing fails with the reason
    version = dataset_version_create(dataset=dataset, options={"min_chars": 10_000})
    assert dataset_version_build(version_id=version.pk, worker_id="w") == "failed"
    version.refresh_from_db()
    assert version.state == VersionState.FAILED
    assert version.error.startswith("No document is left after cleaning; loosen the options")


def test_the_api_refuses_bad_input_with_clear_errors(ws, admin, datasets_dir):
    api = client_for(admin)
    pk = api.post("/api/v1/datasets/", {"name": "Garden"}, format="json").json()["id"]
    again = api.post("/api/v1/datasets/", {"name": "Garden"}, format="json")
    assert (again.status_code, again.json()) == (
        400, {"detail": "The workspace already has a dataset called 'Garden'."})
    neither = api.post(f"/api/v1/datasets/{pk}/imports/", {}, format="json")
    assert (neither.status_code, neither.json()) == (
        400, {"non_field_errors": ["Send either a file or a source."]})
    bomb = SimpleUploadedFile("bomb.zip", garden_zip({"a.txt": b"0" * 2_000_000}))
    refused = api.post(f"/api/v1/datasets/{pk}/imports/", {"file": bomb}, format="multipart")
    assert refused.status_code == 400
    assert "inflates more than 100 times" in refused.json()["detail"]
    empty = api.post(f"/api/v1/datasets/{pk}/imports/", {"source": "feeds"}, format="json")
    assert (empty.status_code, empty.json()) == (
        400, {"detail": "Nothing to import from feed entries: no documents found."})
    assert DatasetImport.objects.count() == 0


def test_published_revisions_and_feed_entries_are_imported(ws, datasets_dir, settings, tmp_path):
    settings.PUBLISH_FILES_DIR = tmp_path / "published"
    target = target_create(workspace=ws, name="Site", kind="file", config={"folder": "site"})
    [publication] = approved_publications(ws, target)
    publication_succeed(publication=publication_claim(publication_id=publication.pk,
                                                      worker_id="io"), external_id="post-1")
    content_type = factories.content_type(ws)
    feed = feed_create(workspace=ws, name="News", url="https://example.com/feed",
                       content_type=content_type)
    brief = factories.brief(ws, ct=content_type, title="Frost warning",
                            source_material="<p>Cover the seedlings tonight.</p>\n\n"
                                            "Source: https://example.com/frost")
    FeedEntry.objects.create(feed=feed, entry_key="k1", entry_id="frost-1", brief=brief)
    dataset = dataset_create(workspace=ws, name="Ours")
    published = dataset_import_published(dataset=dataset)
    feeds = dataset_import_feeds(dataset=dataset)
    rows = [json.loads(line) for item in (published, feeds)
            for line in (datasets_dir / "workspaces" / str(ws.pk) / f"dataset-{dataset.pk}"
                         / "imports" / f"{item.pk}.jsonl").read_text().splitlines()]
    assert [r["text"] for r in rows[:-1]] == published_texts(workspace_id=ws.pk)
    assert rows[-1] == {"id": "feed:frost-1", "text": "<p>Cover the seedlings tonight.</p>",
                        "format": "html", "source": "feeds", "title": "Frost warning"}


def test_a_ghost_targets_posts_are_imported_through_its_connector(ws, datasets_dir):
    with GhostPeer() as ghost:
        for n in range(3):
            ghost.posts[f"{n + 1:024x}"] = {
                "id": f"{n + 1:024x}", "title": f"Post {n}", "html": f"<p>Body {n}</p>",
                "url": f"{ghost.url}/post-{n}/", "status": "published",
                "created_at": f"2026-01-0{n + 1}T00:00:00Z"}
        target = target_create(workspace=ws, name="Blog", kind=TargetKind.GHOST,
                               config={"url": ghost.url}, secret=ghost.admin_key)
        dataset = dataset_create(workspace=ws, name="Blog archive")
        item = dataset_import_target(dataset=dataset, target_id=target.pk)
        assert item.state == ImportState.QUEUED
        assert dataset_import_target_run(import_id=item.pk) == "imported"
        assert dataset_import_target_run(import_id=item.pk) == "skipped"
        listed = [r for r in ghost.requests if r.path.endswith("/posts/")]
    item.refresh_from_db()
    assert (item.state, item.documents) == (ImportState.DONE, 3)
    assert len(listed) == 1 and listed[0].headers["authorization"].startswith("Ghost ")
    lines = (datasets_dir / "workspaces" / str(ws.pk) / f"dataset-{dataset.pk}" / "imports"
             / f"{item.pk}.jsonl").read_text().splitlines()
    assert [json.loads(line)["title"] for line in lines] == ["Post 2", "Post 1", "Post 0"]


def test_a_target_that_refuses_the_key_fails_the_import_with_its_reason(ws, datasets_dir):
    with GhostPeer() as ghost:
        target = target_create(workspace=ws, name="Blog", kind=TargetKind.GHOST,
                               config={"url": ghost.url}, secret=ghost.admin_key)
        ghost.revoke_key()
        dataset = dataset_create(workspace=ws, name="Blog archive")
        item = dataset_import_target(dataset=dataset, target_id=target.pk)
        assert dataset_import_target_run(import_id=item.pk) == "failed"
    item.refresh_from_db()
    assert item.state == ImportState.FAILED
    assert "reading the site's posts" in item.error


def test_wordpress_posts_are_read_page_by_page():
    page = [{"id": n, "title": {"rendered": f"Tea &amp; cake {n}"},
             "content": {"rendered": f"<p>Recipe {n}</p>"}, "link": f"https://s/p{n}"}
            for n in range(2)]
    with HttpPeer(Reply(200, page, {"X-WP-TotalPages": "2"}),
                  Reply(200, page[:1], {"X-WP-TotalPages": "2"})) as wordpress:
        connector = WordPressConnector(url=wordpress.url, username="u", password="p")
        posts = connector.list_posts(10)
        requests = wordpress.requests
    assert [(p.external_id, p.title, p.html) for p in posts] == [
        ("0", "Tea & cake 0", "<p>Recipe 0</p>"), ("1", "Tea & cake 1", "<p>Recipe 1</p>"),
        ("0", "Tea & cake 0", "<p>Recipe 0</p>")]
    assert ["page=1" in r.path and "page=2" not in r.path for r in requests] == [True, False]
    assert all("status=publish" in r.path and "per_page=" in r.path for r in requests)


def test_only_a_workspace_admin_reaches_its_datasets_and_another_workspace_is_a_404(
        ws, admin, editor, datasets_dir, garden_files):
    dataset = dataset_create(workspace=ws, name="Garden")
    dataset_import_upload(dataset=dataset, filename="questions.csv",
                          data=garden_files["questions.csv"])
    version = dataset_version_create(dataset=dataset)
    other = factories.workspace()
    stranger = factories.member(other, Role.ADMIN)
    their_target = target_create(workspace=other, name="Theirs", kind=TargetKind.GHOST,
                                 config={"url": "https://ghost.example.com"},
                                 secret=f"{'ab' * 12}:{'cd' * 32}")
    for user, expected in ((editor, 403), (stranger, 404)):
        api = client_for(user)
        headers = {"X-Workspace": str(ws.pk)} if user is editor else {}
        for path in (f"/api/v1/datasets/{dataset.pk}/", f"/api/v1/dataset-versions/{version.pk}/"):
            assert api.get(path, headers=headers).status_code == expected, (user, path)
        for path, body in ((f"/api/v1/datasets/{dataset.pk}/imports/", {"source": "feeds"}),
                           (f"/api/v1/datasets/{dataset.pk}/build/", {})):
            assert api.post(path, body, format="json", headers=headers).status_code == expected
        listed = api.get("/api/v1/datasets/", headers=headers)
        if user is editor:
            assert listed.status_code == 403
        else:  # without a header the stranger lists their own workspace's: none
            assert listed.json()["results"] == []
    # an admin of ws cannot import another workspace's target by its id
    with pytest.raises(DomainError, match=f"No publishing target {their_target.pk} in this"):
        dataset_import_target(dataset=dataset, target_id=their_target.pk)
    assert DatasetVersion.objects.filter(dataset=dataset).count() == 1


def test_a_build_whose_worker_died_is_sent_again_and_built_once(ws, datasets_dir, garden_files):
    # given two builds running: one whose worker went silent 11 minutes ago, one alive
    dataset = dataset_create(workspace=ws, name="Garden")
    dataset_import_upload(dataset=dataset, filename="questions.csv",
                          data=garden_files["questions.csv"])
    dead = dataset_version_create(dataset=dataset, options={"min_chars": 100})
    alive = dataset_version_create(dataset=dataset, options={"min_chars": 100})
    DatasetVersion.objects.filter(pk=dead.pk).update(
        state=VersionState.RUNNING, worker_id="killed", progress=0.5,
        updated_at=timezone.now() - timedelta(minutes=11))
    DatasetVersion.objects.filter(pk=alive.pk).update(state=VersionState.RUNNING, worker_id="w")
    # when the reconciler sweeps, then only the silent one is queued again, from the start
    assert dataset_versions_requeue_stale() == [dead.pk]
    dead.refresh_from_db()
    assert (dead.state, dead.worker_id, dead.progress) == (VersionState.QUEUED, "", 0.0)
    # and the message it is sent again builds it
    assert dataset_version_build(version_id=dead.pk, worker_id="w2") == "built"
    assert dataset_versions_requeue_stale() == []


def test_a_build_that_breaks_fails_with_a_reason_and_no_path(ws, datasets_dir, garden_files):
    dataset = dataset_create(workspace=ws, name="Garden")
    item = dataset_import_upload(dataset=dataset, filename="questions.csv",
                                 data=garden_files["questions.csv"])
    version = dataset_version_create(dataset=dataset)
    (datasets_dir / "workspaces" / str(ws.pk) / f"dataset-{dataset.pk}" / "imports"
     / f"{item.pk}.jsonl").unlink()  # the shared volume lost the file
    assert dataset_version_build(version_id=version.pk, worker_id="w") == "failed"
    version.refresh_from_db()
    assert (version.state, version.error) == (
        VersionState.FAILED,
        "The build failed (FileNotFoundError); the worker's log has the details.")
