"""Serializer bases every app's API shares: the id field and the workspace-scoped row."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import models
from rest_framework import serializers

_MT = TypeVar("_MT", bound=models.Model)
_Row = TypeVar("_Row", bound=models.Model)

# Ids are 64-bit: a larger number is refused as input rather than overflowing in the database.
ID_MAX = 2**63 - 1


class IdField(serializers.IntegerField):
    """A database id: positive and 64-bit."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=1, max_value=ID_MAX, **kwargs)


class WorkspaceScopedSerializer(serializers.ModelSerializer[_MT]):
    """Writes need `workspace` in the context; PATCH passes the row as the instance."""

    def _others(self, model: type[_Row]) -> models.QuerySet[_Row]:
        rows = model._default_manager.filter(workspace=self.context["workspace"])
        return rows.exclude(pk=self.instance.pk) if self.instance is not None else rows
