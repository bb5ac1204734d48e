"""`manage.py model list|promote|rollback|evaluate`: a workspace's model registry from a
script.

    model list <workspace-slug>
    model promote <workspace-slug> <version number> --profile NAME
    model rollback <workspace-slug> --profile NAME
    model evaluate <workspace-slug> <version number>

`evaluate` queues a run of the evaluation suite on the version for a generation worker; its
figures join the version's metrics (`model list` shows them).
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import QuerySet

from apps.core.commands import subcommands, workspace_named
from apps.core.errors import DomainError
from apps.generation.models import ModelProfile, ModelVersion
from apps.generation.registry import model_profile_rollback, model_version_promote, model_versions
from apps.generation.suite import suite_run_create


def version_numbered(versions: QuerySet[ModelVersion], number: int) -> ModelVersion:
    version = versions.filter(number=number).first()
    if version is None:
        raise CommandError(f"No model version {number} in this workspace.")
    return version


class Command(BaseCommand):
    help = ("List a workspace's model versions, promote one to a profile, roll a profile back, "
            "evaluate a version.")

    def add_arguments(self, parser: CommandParser) -> None:
        actions = subcommands(parser, {"list": "One JSON line per version, newest first.",
                                       "promote": "Point a profile at a version.",
                                       "rollback": "Undo a profile's last promotion.",
                                       "evaluate": "Queue the evaluation suite on a version."},
                              "workspace")
        for action in (actions["promote"], actions["evaluate"]):
            action.add_argument("number", type=int)
        for action in (actions["promote"], actions["rollback"]):
            action.add_argument("--profile", required=True, help="the model profile's name")

    def handle(self, *args: Any, **options: Any) -> None:
        workspace = workspace_named(options["workspace"])
        versions = model_versions(workspace_id=workspace.pk)
        if options["action"] == "list":
            for v in versions:
                self.stdout.write(json.dumps({
                    "version": v.number, "folder": v.folder, "kind": v.kind, "base": v.base,
                    "dataset_version_id": v.dataset_version_id,
                    "archived": v.archived_at is not None, **v.metrics}))
            return
        if options["action"] == "evaluate":
            try:
                run = suite_run_create(version=version_numbered(versions, options["number"]))
            except DomainError as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(f"Suite run {run.pk} queued for version {options['number']}.")
            return
        profile = ModelProfile.objects.filter(workspace=workspace, name=options["profile"]).first()
        if profile is None:
            raise CommandError(f"No model profile {options['profile']!r} in {workspace.slug}.")
        try:
            if options["action"] == "promote":
                model_version_promote(version=version_numbered(versions, options["number"]),
                                      profile=profile)
            else:
                model_profile_rollback(profile=profile)
        except DomainError as exc:
            raise CommandError(str(exc)) from None
        profile.refresh_from_db()
        self.stdout.write(f"{profile.name}: {profile.backend} {profile.model}")
