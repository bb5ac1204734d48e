"""What the pages' forms share."""

from __future__ import annotations

from typing import Any, TypeVar

from django import forms
from django.core.exceptions import ValidationError
from django.forms.fields import InvalidJSONInput, JSONString

from apps.core.json_input import json_checked

FieldT = TypeVar("FieldT", bound=forms.Field)


def form_field(form: forms.BaseForm, name: str, kind: type[FieldT]) -> FieldT:
    """The form's field `name` as the class it is declared with, to set its choices or
    queryset for the request."""
    field = form.fields[name]
    if not isinstance(field, kind):
        raise TypeError(f"{type(form).__name__}.{name} is not a {kind.__name__}.")
    return field


class CheckedJSONField(forms.JSONField):
    """Django's JSON form field with the API's checks: JSON nested deeper than the limit,
    NaN or a NUL character is a form error, never a 500 (json.loads recursing, the database
    refusing NUL). The admin's JSON fields use it (apps/accounts/admin_scoping.py)."""

    def to_python(self, value: Any) -> Any:
        if self.disabled or value in self.empty_values or isinstance(
                value, (list, dict, int, float, JSONString)):
            return super().to_python(value)
        try:
            converted = json_checked(value)
        except ValueError as exc:
            raise ValidationError(f"Enter a valid JSON: {exc}", code="invalid") from exc
        return JSONString(converted) if isinstance(converted, str) else converted

    def bound_data(self, data: Any, initial: Any) -> Any:
        if self.disabled or data is None:
            return super().bound_data(data, initial)
        try:
            return json_checked(data)
        except ValueError:
            return InvalidJSONInput(data)
