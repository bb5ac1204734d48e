"""The file connector committing its posts to a real git repository (`git_commit`)."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from apps.core.errors import DomainError
from apps.publishing.connectors import PermanentPublishError, PublishResult, connector_for
from apps.publishing.connectors.base import PublishItem
from apps.publishing.connectors.file import FileConnector
from apps.publishing.models import PublicationState, PublishingTarget, TargetKind
from apps.publishing.outcomes import publication_withdraw
from apps.publishing.targets import target_config_validate, target_create
from apps.publishing.tasks import publish
from tests import factories
from tests.peers.content import approved_publications


def _item(**changes: object) -> PublishItem:
    item = PublishItem(
        idempotency_key="6f1c2b7e-1d2a-4c53-9a57-0b7f3c9d2e11", publication_id=41, brief_id=7,
        revision=2, title="Composting at home", body="# Start small\n\nA bucket will do.\n",
        keywords=("compost", "garden"), language="en", content_type="blog-post",
        published_at=datetime(2025, 3, 14, 9, 30, tzinfo=UTC),
    )
    return replace(item, **changes)  # type: ignore[arg-type]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True,
                          timeout=30).stdout


def _repo(path: Path) -> Path:
    """A site's repository with one commit of its own (as a real one would have)."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "--quiet")
    (path / "README.md").write_text("My site\n")
    git(path, "add", "README.md")
    git(path, "-c", "user.name=Site Owner", "-c", "user.email=owner@example.org",
        "commit", "--quiet", "-m", "Start the site")
    return path


def _log(repo: Path) -> list[str]:
    """Newest first: 'author <email> | subject | files'."""
    out = git(repo, "log", "--format=%x00%an <%ae> | %s", "--name-only")
    return [" | ".join(line for line in entry.strip().splitlines() if line)
            for entry in out.split("\0") if entry.strip()]


def test_publish_update_and_unpublish_each_commit_just_the_post(tmp_path):
    repo = _repo(tmp_path / "site")
    (repo / "draft-notes.md").write_text("not ready\n")
    git(repo, "add", "draft-notes.md")  # the owner's own staged work: never ours to commit
    connector = FileConnector(folder=repo / "content" / "posts", git_commit=True)

    connector.validate()
    first = connector.publish(_item())
    again = connector.publish(_item())  # a retried attempt: the file and its commit exist
    connector.update(first.external_id, _item(revision=3, title="Composting, revised"))
    connector.unpublish(first.external_id)
    connector.unpublish(first.external_id)  # already gone and committed: nothing to do

    assert first == again == PublishResult(external_id="composting-at-home.md")
    post = "content/posts/composting-at-home.md"
    assert _log(repo) == [
        f'AIGC Platform <platform@localhost> | Withdraw "Composting, revised" '
        f"(composting-at-home.md) | {post}",
        f'AIGC Platform <platform@localhost> | Update "Composting, revised" (publication 41, '
        f"revision 3) | {post}",
        f'AIGC Platform <platform@localhost> | Publish "Composting at home" (publication 41) '
        f"| {post}",
        "Site Owner <owner@example.org> | Start the site | README.md",
    ]
    assert not (repo / post).exists()
    assert git(repo, "status", "--porcelain") == "A  draft-notes.md\n"


def test_a_target_configures_the_author_and_the_folder_under_the_publish_dir(settings, tmp_path):
    settings.PUBLISH_FILES_DIR = tmp_path
    repo = _repo(tmp_path / "blog")
    target = PublishingTarget(kind=TargetKind.FILE, config={
        "folder": "blog/posts", "git_commit": True, "git_author": "Ed Itor <ed@example.org>"})

    connector_for(target).publish(_item())

    assert _log(repo)[0] == ('Ed Itor <ed@example.org> | Publish "Composting at home" '
                             "(publication 41) | posts/composting-at-home.md")


def test_a_folder_outside_any_repository_fails_validation_saying_what_to_do(tmp_path):
    folder = tmp_path / "posts"

    with pytest.raises(PermanentPublishError) as refused:
        FileConnector(folder=folder, git_commit=True).validate()

    assert refused.value.message == (
        f"{folder} is not in a git repository, and the target's 'git_commit' needs one: run "
        "'git init' there (or in a folder above it), or turn 'git_commit' off.")
    assert not folder.exists()


def test_a_repository_above_the_publish_dir_is_not_committed_to(tmp_path):
    repo = _repo(tmp_path / "platform")  # e.g. the platform's own checkout
    publish_dir = repo / "var" / "published"
    connector = FileConnector(folder=publish_dir / "site", git_commit=True,
                              git_within=publish_dir)

    with pytest.raises(PermanentPublishError) as refused:
        connector.validate()

    assert refused.value.message == (
        f"{publish_dir / 'site'} is in the git repository {repo}, outside {publish_dir}; make "
        f"{publish_dir / 'site'} (or a folder above it within {publish_dir}) a git repository "
        "of its own.")


@pytest.mark.parametrize(("config", "message"), [
    ({"folder": "site", "git_commit": "yes"}, "A file target's 'git_commit' is true or false."),
    ({"folder": "site", "git_commit": True, "git_author": "Ed"},
     "A file target's 'git_author' has the form 'Name <email>', not 'Ed'."),
])
def test_git_config_is_checked_with_the_target(config, message):
    with pytest.raises(DomainError) as refused:
        target_config_validate(TargetKind.FILE, config)

    assert str(refused.value) == message


@pytest.mark.django_db(transaction=True)
def test_a_published_file_post_is_withdrawn_with_a_commit(settings, tmp_path):
    settings.PUBLISH_FILES_DIR = tmp_path
    repo = _repo(tmp_path / "site")
    ws = factories.workspace()
    target = target_create(workspace=ws, name="Site", kind=TargetKind.FILE,
                           config={"folder": "site", "git_commit": True})
    [publication] = approved_publications(ws, target)

    published = publish(publication.pk)
    publication.refresh_from_db()
    refused = publication_withdraw(publication=publication)

    publication.refresh_from_db()
    assert (published, refused, publication.state) == (
        PublicationState.PUBLISHED, "", PublicationState.WITHDRAWN)
    assert [entry.split(" | ")[1] for entry in _log(repo)] == [
        'Withdraw "Composting at home" (composting-at-home.md)',
        f'Publish "Composting at home" (publication {publication.pk})', "Start the site"]
    assert sorted(p.name for p in repo.iterdir()) == [".git", "README.md"]
