"""`manage.py member add <workspace-slug> <username> --role admin|editor|reviewer
[--password P] [--email E]`: creates the user when missing."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.accounts.models import Role
from apps.accounts.services import member_add
from apps.core.commands import subcommands, workspace_named
from apps.core.errors import DomainError


class Command(BaseCommand):
    help = "Manage a workspace's members."

    def add_arguments(self, parser: CommandParser) -> None:
        add = subcommands(parser, {"add": "Give a user a role in a workspace."},
                          "workspace", "username")["add"]
        add.add_argument("--role", required=True, choices=Role.values)
        add.add_argument("--password", default="", help="set (or reset) the user's password")
        add.add_argument("--email", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        workspace = workspace_named(options["workspace"])
        try:
            user, membership = member_add(workspace=workspace, username=options["username"],
                                          role=options["role"], password=options["password"],
                                          email=options["email"])
        except DomainError as exc:
            raise CommandError(str(exc)) from None
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(f"{user.get_username()} is {membership.role} in {workspace.slug}.")
