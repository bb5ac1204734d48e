"""`manage.py dataset import|build|show`: a workspace's datasets from a script.

    dataset import <workspace-slug> <name> [FILE ...] [--published] [--approved] [--feeds]
                   [--target ID]
    dataset build <workspace-slug> <name> [--options JSON]
    dataset show <workspace-slug> <name> [--number N] [--preferences]

`import` creates the dataset when missing. `build` builds the new version in this process
(with progress on stderr) and prints its stats as JSON on the last line; the queued
message a worker may also receive then finds it built and does nothing. `show` prints a
version's data card (the latest by default), or with --preferences its preference pairs as
JSONL (prompt, chosen, rejected), for a method that trains on them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from apps.core.commands import subcommands, workspace_named
from apps.core.errors import DomainError
from apps.core.models import Workspace
from apps.datasets.models import Dataset, DatasetVersion, ImportSource, VersionState
from apps.datasets.selectors import datasets
from apps.datasets.services import (
    dataset_create,
    dataset_import_source,
    dataset_import_target_run,
    dataset_version_build,
    dataset_version_create,
    version_preferences,
)

# The workspace's own texts, imported by a flag each.
OWN_SOURCES = (ImportSource.PUBLISHED, ImportSource.APPROVED, ImportSource.FEEDS)


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
        actions = subcommands(parser, {"import": "Add documents (creates the dataset).",
                                       "build": "Build a new version here and now.",
                                       "show": "Print a version's data card."},
                              "workspace", "name")
        imports = actions["import"]
        imports.add_argument("files", nargs="*", type=Path,
                             help="txt, md, html, csv, jsonl files, or zips of them")
        for source in OWN_SOURCES:
            imports.add_argument(f"--{source}", action="store_true",
                                 help=f"the workspace's {source.label.lower()}")
        imports.add_argument("--target", type=int, help="a WordPress or Ghost target's posts")
        actions["build"].add_argument("--options", default="{}", help="cleaning options as JSON")
        actions["show"].add_argument("--number", type=int,
                                     help="the version number (default: latest)")
        actions["show"].add_argument("--preferences", action="store_true",
                                     help="print the version's preference pairs (JSONL)")

    def handle(self, *args: Any, **options: Any) -> None:
        workspace = workspace_named(options["workspace"])
        try:
            getattr(self, f"_{options['action']}")(workspace, options)
        except DomainError as exc:
            raise CommandError(str(exc)) from None

    def _import(self, workspace: Workspace, options: dict[str, Any]) -> None:
        own = [source for source in OWN_SOURCES if options[source]]
        if not (options["files"] or own or options["target"]):
            raise CommandError("Name files to import, or --published, --approved, --feeds or "
                               "--target.")
        dataset = datasets(workspace_id=workspace.pk).filter(name=options["name"]).first() or \
            dataset_create(workspace=workspace, name=options["name"])
        items = []
        with transaction.atomic():  # all or nothing: a bad file imports none of them
            for path in options["files"]:
                if not path.is_file():
                    raise CommandError(f"No file {path}.")
                with path.open("rb") as handle:
                    items.append(dataset_import_source(dataset=dataset, source=ImportSource.UPLOAD,
                                                       upload=File(handle, name=path.name)))
            items += [dataset_import_source(dataset=dataset, source=source) for source in own]
            if options["target"]:
                items.append(dataset_import_source(dataset=dataset, source=ImportSource.TARGET,
                                                   target_id=options["target"]))
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
        if options["preferences"]:
            if version.state != VersionState.SUCCEEDED:
                raise CommandError(f"Version {version.number} is {version.state}: it has no "
                                   "preference pairs.")
            for row in version_preferences(version):
                self.stdout.write(json.dumps(row, ensure_ascii=False))
            return
        self.stdout.write(version.card or f"Version {version.number} is {version.state}"
                          + (f": {version.error}" if version.error else "."))
