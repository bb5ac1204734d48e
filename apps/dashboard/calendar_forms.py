"""The content calendar's forms: which period and target to show, and a publication's new
time (read in the user's zone, like every time typed in the dashboard)."""

from __future__ import annotations

import datetime
from typing import Any, cast

from django import forms

from apps.dashboard.calendar_selectors import MONTH, VIEWS
from apps.publishing.models import PublishingTarget

# Far enough for any plan; the bounds keep a month's grid inside what `date` can hold.
YEARS = (2000, 2999)


class CalendarForm(forms.Form):
    """The period and target shown; an invalid field is shown as an error and ignored."""

    view = forms.ChoiceField(choices=list(VIEWS.items()), required=False)
    date = forms.DateField(required=False, label="Go to",
                           widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    target = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)

    def __init__(self, *args: Any, targets: list[PublishingTarget], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The page already holds the targets: no query to offer or check them.
        cast(forms.TypedChoiceField, self.fields["target"]).choices = [
            ("", "All targets"), *((t.pk, t.name) for t in targets)]

    def clean_date(self) -> datetime.date | None:
        day: datetime.date | None = self.cleaned_data["date"]
        if day is not None and not YEARS[0] <= day.year <= YEARS[1]:
            raise forms.ValidationError(f"Choose a date from {YEARS[0]} to {YEARS[1]}.")
        return day

    def period(self, default: datetime.date) -> tuple[str, datetime.date, int | None]:
        """(view, anchor day (else `default`), target id or None) from the fields that
        validated."""
        self.is_valid()
        data = self.cleaned_data
        return data.get("view") or MONTH, data.get("date") or default, data.get("target")


class RescheduleForm(forms.Form):
    publish_at = forms.DateTimeField(
        label="New time",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"))
