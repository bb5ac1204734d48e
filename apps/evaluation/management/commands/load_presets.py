"""python manage.py load_presets --workspace SLUG: the six domains' content types, English and
Chinese, with their gates."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.models import Workspace
from apps.evaluation.services import content_type_presets_load


class Command(BaseCommand):
    help = ("Load (or bring back to the preset) the content types for news articles, ad copy, "
            "marketing emails and posts, support replies, lessons and literature, in English and "
            "Simplified Chinese, each with its quality gate, into a workspace.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workspace", required=True, help="the workspace's slug")

    def handle(self, *args: Any, **options: Any) -> None:
        workspace = Workspace.objects.filter(slug=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"No workspace with slug '{options['workspace']}'.")
        loaded = content_type_presets_load(workspace=workspace)
        self.stdout.write(f"{len(loaded)} content types in {workspace.slug}: "
                          + ", ".join(c.slug for c in loaded))
