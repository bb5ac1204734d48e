"""The base every v1 endpoint shares, before any workspace or role: the schema that
documents the platform's errors, key scopes, cursor pages, id filters and the 404 of a row
the caller cannot see. Which workspace a request acts in is the accounts app's
(`apps/accounts/api_auth.py`)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal, TypeVar

import django_filters
from django import forms
from django.db import models
from django.db.models import QuerySet
from drf_spectacular.openapi import AutoSchema
from rest_framework import pagination
from rest_framework.views import APIView

from apps.core.errors import NotFound
from apps.core.serializers import ID_MAX

_Row = TypeVar("_Row", bound=models.Model)

ERROR_SCHEMA = {
    "type": "object",
    "description": "`detail` says why a request was refused; invalid input instead lists "
                   "messages per field, e.g. {\"title\": [\"This field is required.\"]}.",
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": {},
}
ERRORS = {
    "400": "Invalid input, field by field.",
    "401": "No credentials, or an unknown or revoked API key.",
    "403": "The caller's role or the API key's scopes do not allow this.",
    "404": "Not found in the caller's workspace.",
    "409": "The object is not in a state that allows this action.",
    "429": "Too many requests for this key or user; see Retry-After.",
}


class ApiSchema(AutoSchema):
    """Every v1 operation documents the errors the platform answers with."""

    def _get_response_bodies(self, direction: Literal["request", "response"] = "response"
                             ) -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        for code, description in ERRORS.items():
            responses.setdefault(code, {"description": description, "content": {
                "application/json": {"schema": ERROR_SCHEMA}}})
        return responses

    def _is_create_operation(self) -> bool:
        # a row-create POST answers 201 with the row, as a ListCreateAPIView's does
        return super()._is_create_operation() or (
            self.method == "POST" and getattr(self.view, "creates_rows", False))


class ApiBase(APIView):
    """The base of every v1 view: API keys (scoped) or sessions, throttles (all from the
    REST_FRAMEWORK settings: apps.apikeys.authentication), and the OpenAPI schema.

    `read_scope` / `write_scope` name the API key scope a view needs; a view
    without one cannot be called with a key at all.
    """

    schema = ApiSchema()
    read_scope: str | None = None
    write_scope: str | None = None
    creates_rows: ClassVar[bool] = False  # its POST answers 201 with the row it made


class IdCursorPagination(pagination.CursorPagination):
    """Stable pages however rows are added meanwhile; newest first unless `ordering` says else."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class IdFilter(django_filters.Filter):
    """Filter by a 64-bit id: a larger number is a 400 naming the limit, never a database error."""

    field_class = forms.IntegerField

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=1, max_value=ID_MAX, **kwargs)


def row_found(rows: QuerySet[_Row], pk: int, noun: str, *,
              missing: str = "{noun} {pk} not found.") -> _Row:
    """Row `pk` of `rows` (the caller's workspace's, so another's is missing alike); else a 404
    saying `missing` with the noun and pk filled in."""
    row = rows.filter(pk=pk).first()
    if row is None:
        raise NotFound(missing.format(noun=noun, pk=pk))
    return row
