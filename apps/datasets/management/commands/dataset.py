"""`manage.py dataset import|build|show`: a workspace's datasets from a script.

    dataset import <workspace-slug> <name> [FILE ...] [--published] [--feeds] [--target ID]
    dataset build <workspace-slug> <name> [--options JSON]
    dataset show <workspace-slug> <name> [--number N]

`import` creates the dataset when missing. `build` builds the new version in this process
(with progress on stderr) and prints its stats as JSON on the last line; the queued
message a worker may also receive then finds it built and does nothing. `show` prints a
version's data card (the latest by default).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from apps.core.errors import DomainError
from apps.core.models import Workspace
from apps.datasets.models import Dataset, DatasetVersion, VersionState
from apps.datasets.selectors import datasets
from apps.datasets.services import (
    dataset_create,
    dataset_import_feeds,
    dataset_import_published,
    dataset_import_target,
    dataset_import_target_run,
    dataset_import_upload,
    dataset_version_build,
    dataset_version_create,
)


def workspace_named(slug: str) -> Workspace:
    workspace = Workspace.objects.filter(slug=slug).first()
    if workspace is None:
        raise CommandError(f"No workspace has the slug {slug!r}.")
    return workspace


def dataset_named(workspace: Workspace, name: str) -> Dataset:
    dataset = datasets(workspace_id=workspace.pk).filter(name=name).first()
    if dataset is None:
        raise CommandError(f"No dataset {name!r} in {workspace.slug}.")
    return dataset


def version_of(dataset: Dataset, number: int | None) -> DatasetVersion:
    versions = dataset.versions.order_by("-number")
    version = (versions.filter(number=number) if number else versions).first()
    if version is None:
        raise CommandError(f"{dataset.name!r} has no version {number or ''}".rstrip() + ".")
    return version


class Command(BaseCommand):
    help = "Import documents into a workspace's dataset, build a version, show its data card."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        imports = actions.add_parser("import", help="Add documents (creates the dataset).")
        build = actions.add_parser("build", help="Build a new version here and now.")
        show = actions.add_parser("show", help="Print a version's data card.")
        for action in (imports, build, show):
            action.add_argument("workspace")
            action.add_argument("name")
        imports.add_argument("files", nargs="*", type=Path,
                             help="txt, md, html, csv, jsonl files, or zips of them")
        imports.add_argument("--published", action="store_true",
                             help="the workspace's published revisions")
        imports.add_argument("--feeds", action="store_true", help="the workspace's feed entries")
        imports.add_argument("--target", type=int, help="a WordPress or Ghost target's posts")
        build.add_argument("--options", default="{}", help="cleaning options as JSON")
        show.add_argument("--number", type=int, help="the version number (default: latest)")

    def handle(self, *args: Any, **options: Any) -> None:
        workspace = workspace_named(options["workspace"])
        try:
            getattr(self, f"_{options['action']}")(workspace, options)
        except DomainError as exc:
            raise CommandError(str(exc)) from None

    def _import(self, workspace: Workspace, options: dict[str, Any]) -> None:
        if not (options["files"] or options["published"] or options["feeds"] or options["target"]):
            raise CommandError("Name files to import, or --published, --feeds or --target.")
        dataset = datasets(workspace_id=workspace.pk).filter(name=options["name"]).first() or \
            dataset_create(workspace=workspace, name=options["name"])
        items = []
        with transaction.atomic():  # all or nothing: a bad file imports none of them
            for path in options["files"]:
                if not path.is_file():
                    raise CommandError(f"No file {path}.")
                items.append(dataset_import_upload(dataset=dataset, filename=path.name,
                                                   data=path.read_bytes()))
            if options["published"]:
                items.append(dataset_import_published(dataset=dataset))
            if options["feeds"]:
                items.append(dataset_import_feeds(dataset=dataset))
            if options["target"]:
                items.append(dataset_import_target(dataset=dataset, target_id=options["target"]))
        for item in items:
            if item.target_id is not None:  # fetched here rather than by a worker
                dataset_import_target_run(import_id=item.pk)
                item.refresh_from_db()
            self.stdout.write(f"{item.label}: {item.documents} documents ({item.state})"
                              + (f": {item.error}" if item.error else ""))

    def _build(self, workspace: Workspace, options: dict[str, Any]) -> None:
        dataset = dataset_named(workspace, options["name"])
        try:
            values = json.loads(options["options"])
        except json.JSONDecodeError as exc:
            raise CommandError(f"--options is not JSON: {exc.msg}.") from None
        if not isinstance(values, dict):
            raise CommandError("--options is a JSON object, e.g. '{\"languages\": [\"en\"]}'.")
        version = dataset_version_create(dataset=dataset, options=values)
        dataset_version_build(version_id=version.pk, worker_id="manage.py")
        version.refresh_from_db()
        if version.state != VersionState.SUCCEEDED:
            raise CommandError(f"Version {version.number} failed: {version.error}")
        stats = version.stats
        self.stderr.write(f"Version {version.number}: {stats['documents']} of "
                          f"{stats['documents_in']} documents kept, {stats['tokens']} tokens, "
                          f"{stats['seconds']} s.")
        self.stdout.write(json.dumps({"version": version.number, "id": version.pk, **stats}))

    def _show(self, workspace: Workspace, options: dict[str, Any]) -> None:
        version = version_of(dataset_named(workspace, options["name"]), options["number"])
        self.stdout.write(version.card or f"Version {version.number} is {version.state}"
                          + (f": {version.error}" if version.error else "."))
