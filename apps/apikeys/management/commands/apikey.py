"""`manage.py apikey create <workspace-slug> <username> --scopes a,b,c [--name N]`.

The new key is printed alone on the last line, so a script can take it with `tail -1`.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.apikeys.models import Scope
from apps.apikeys.services import apikey_create_for_username
from apps.core.commands import subcommands, workspace_named
from apps.core.errors import DomainError


class Command(BaseCommand):
    help = "Manage API keys."

    def add_arguments(self, parser: CommandParser) -> None:
        create = subcommands(parser, {"create": "Create a key; it is shown once."},
                             "workspace", "username")["create"]
        create.add_argument("--scopes", required=True,
                            help=f"comma separated, of: {', '.join(Scope.values)}")
        create.add_argument("--name", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        workspace = workspace_named(options["workspace"])
        scopes = [s.strip() for s in options["scopes"].split(",") if s.strip()]
        try:
            key, plaintext = apikey_create_for_username(
                workspace=workspace, username=options["username"], scopes=scopes,
                name=options["name"] or f"{options['username']} (cli)")
        except DomainError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"API key {key.name!r} ({key.prefix}…) for {key.user.get_username()} in "
                          f"{workspace.slug}, scopes {', '.join(key.scopes)}. It is not shown again:")
        self.stdout.write(plaintext)
