"""What the apps' management commands share: the workspace a script names by its slug, and
sub-commands that take the same leading arguments."""

from __future__ import annotations

from django.core.management.base import CommandError, CommandParser

from apps.core.models import Workspace


def workspace_named(slug: str) -> Workspace:
    workspace = Workspace.objects.filter(slug=slug).first()
    if workspace is None:
        raise CommandError(f"No workspace has the slug {slug!r}.")
    return workspace


def subcommands(parser: CommandParser, actions: dict[str, str], *leading: str
                ) -> dict[str, CommandParser]:
    """One sub-command per action (name: help), each taking the `leading` positional
    arguments first; the one chosen is `options["action"]`."""
    chosen = parser.add_subparsers(dest="action", required=True)
    parsers = {name: chosen.add_parser(name, help=text) for name, text in actions.items()}
    for action in parsers.values():
        for argument in leading:
            action.add_argument(argument)
    return parsers
