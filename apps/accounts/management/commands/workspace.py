"""`manage.py workspace create <slug> [--name NAME] [--time-zone TZ]`, for operators and scripts."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.accounts.services import workspace_create
from apps.core.commands import subcommands
from apps.core.errors import DomainError


class Command(BaseCommand):
    help = "Manage workspaces (tenants)."

    def add_arguments(self, parser: CommandParser) -> None:
        create = subcommands(parser, {"create": "Create a workspace."}, "slug")["create"]
        create.add_argument("--name", default="")
        create.add_argument("--time-zone", default="", help="IANA zone, e.g. Europe/Paris (UTC)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            workspace = workspace_create(slug=options["slug"], name=options["name"],
                                         time_zone=options["time_zone"])
        except DomainError as exc:
            raise CommandError(str(exc)) from None
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(f"Workspace {workspace.slug} (id {workspace.pk}, "
                          f"time zone {workspace.time_zone}) created.")
