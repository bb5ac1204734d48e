"""What the services that change some fields of a row share: the fields they accept, and
saving only the ones whose value changes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import models

from apps.core.errors import DomainError


def changes_check(changes: Mapping[str, Any], fields: Iterable[str], *, rows: str) -> None:
    """DomainError naming the keys of `changes` not among `fields`; `rows` names what is
    changed, in the plural ("Targets")."""
    unknown = set(changes) - set(fields)
    if unknown:
        raise DomainError(f"{rows} have no field(s) {', '.join(sorted(unknown))}.")


def changes_save(row: models.Model, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Set `changes` on `row` and save the fields whose value they change (with the row's
    `updated_at`); the earlier values of those fields, by name ({}: nothing was saved)."""
    before = {name: getattr(row, name) for name, value in changes.items()
              if getattr(row, name) != value}
    for name, value in changes.items():
        setattr(row, name, value)
    if before:
        row.save(update_fields=[*before, "updated_at"])
    return before
