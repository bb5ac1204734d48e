"""Dashboard forms: they parse and validate input; the services decide."""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

from django import forms

from apps.briefs.models import ContentType, Origin, StyleGuide
from apps.core.forms import form_field
from apps.core.json_input import JsonRejected, json_checked
from apps.core.models import Workspace
from apps.dashboard.selectors import QueueFilters
from apps.dashboard.services import BULK_ACTIONS, BULK_MAX, ROUND_ROBIN
from apps.generation.models import TrainingKind
from apps.generation.training import training_parameters_errors
from apps.publishing.models import PublishingTarget

MAX_KEYWORDS = 30


class BriefForm(forms.Form):
    title = forms.CharField(max_length=200)
    content_type = forms.ModelChoiceField(queryset=ContentType.objects.none())
    style_guide = forms.ModelChoiceField(queryset=StyleGuide.objects.none(), required=False)
    topic = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))
    audience = forms.CharField(max_length=200, required=False)
    tone = forms.CharField(max_length=200, required=False)
    keywords = forms.CharField(max_length=2000, required=False, help_text="Comma separated.")
    target_length = forms.IntegerField(
        min_value=10, max_value=5000, required=False,
        help_text="Words; characters for Chinese and Japanese. Empty: the content type's default.",
    )
    variants = forms.IntegerField(
        min_value=1, max_value=8, required=False, help_text="Empty: the content type's default."
    )
    language = forms.CharField(max_length=16, required=False,
                               help_text="A tag such as en or zh-CN. Empty: the content type's.")
    source_material = forms.CharField(
        max_length=50_000, required=False, widget=forms.Textarea(attrs={"rows": 5})
    )
    due_at = forms.DateTimeField(
        required=False, label="Due",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    priority = forms.IntegerField(min_value=-100, max_value=100, initial=0,
                                  help_text="Higher runs first.")

    def __init__(self, *args: Any, workspace: Workspace, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        form_field(self, "content_type", forms.ModelChoiceField).queryset = (
            ContentType.objects.filter(workspace=workspace).order_by("name"))
        form_field(self, "style_guide", forms.ModelChoiceField).queryset = (
            StyleGuide.objects.filter(workspace=workspace).order_by("name"))

    def clean_keywords(self) -> list[str]:
        words = [w.strip() for w in self.cleaned_data["keywords"].split(",")]
        keywords = list(dict.fromkeys(w for w in words if w))
        if len(keywords) > MAX_KEYWORDS:
            raise forms.ValidationError(f"At most {MAX_KEYWORDS} keywords.")
        return keywords


def _publish_at_field(help_text: str) -> forms.DateTimeField:
    """A publish time from the browser's date-time picker, read in the user's time zone
    (activated per request: apps.accounts.middleware)."""
    return forms.DateTimeField(
        required=False, label="Publish at", help_text=help_text,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )


def _targets_offer(field: forms.ModelMultipleChoiceField[PublishingTarget],
                   targets: list[PublishingTarget]) -> None:
    field.queryset = PublishingTarget.objects.filter(pk__in=[t.pk for t in targets])
    # The page already holds the targets: render them without another query.
    field.choices = [(t.pk, str(t)) for t in targets]


class ApproveForm(forms.Form):
    """The review screen's one approve form: the variant is chosen in it (best first)."""

    draft_id = forms.IntegerField(label="Variant", widget=forms.RadioSelect)
    comment = forms.CharField(max_length=10_000, required=False,
                              widget=forms.Textarea(attrs={"rows": 2}))
    targets = forms.ModelMultipleChoiceField(
        queryset=PublishingTarget.objects.none(), required=False,
        widget=forms.CheckboxSelectMultiple, label="Publish to",
    )
    publish_at = _publish_at_field("Empty: as soon as approved.")
    override_justification = forms.CharField(
        max_length=2000, required=False, label="Justification",
        help_text="Workspace admins only: approve a revision that breaks a hard rule, for this "
        "recorded reason.")

    def __init__(self, *args: Any, targets: list[PublishingTarget], **kwargs: Any) -> None:
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("targets", [t.pk for t in targets if t.auto_publish])
        super().__init__(*args, **kwargs)
        _targets_offer(form_field(self, "targets", forms.ModelMultipleChoiceField), targets)

    def variants_offer(self, choices: list[tuple[int, str]]) -> None:
        """The variants shown as choices, (draft id, label); the service decides which may be
        approved, so a form read back from a POST needs none."""
        self.fields["draft_id"].widget.choices = choices


class PublishForm(forms.Form):
    """An approved, scheduled or published brief sent to more targets (`brief_publish`)."""

    targets = forms.ModelMultipleChoiceField(
        queryset=PublishingTarget.objects.none(), widget=forms.CheckboxSelectMultiple,
        label="Publish to", error_messages={"required": "Choose at least one target."},
    )
    publish_at = _publish_at_field("Empty: now.")

    def __init__(self, *args: Any, targets: list[PublishingTarget], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _targets_offer(form_field(self, "targets", forms.ModelMultipleChoiceField), targets)


class RejectForm(forms.Form):
    comment = forms.CharField(max_length=10_000, required=False,
                              widget=forms.Textarea(attrs={"rows": 2}))


class RequestChangesForm(forms.Form):
    feedback = forms.CharField(max_length=10_000, widget=forms.Textarea(attrs={"rows": 3}),
                               help_text="What should change: it goes into the next prompt.")


class WorkspaceSwitchForm(forms.Form):
    workspace_id = forms.IntegerField(label="Workspace")


class PreviewForm(forms.Form):
    """A draft's text as typed in its editor, for the live count and previews."""

    text = forms.CharField(max_length=50_000, widget=forms.Textarea(attrs={"rows": 10}),
                           label="Text")


class EditForm(PreviewForm):
    base_revision = forms.IntegerField(min_value=1, widget=forms.HiddenInput)


class CommentForm(forms.Form):
    body = forms.CharField(max_length=10_000, widget=forms.Textarea(attrs={"rows": 2}),
                           label="Comment", help_text="Mention someone with @username.")
    parent_id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    draft_id = forms.IntegerField(required=False, widget=forms.HiddenInput)


class AssignForm(forms.Form):
    reviewer = forms.ChoiceField(label="Reviewer")

    def __init__(self, *args: Any, reviewers: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        form_field(self, "reviewer", forms.ChoiceField).choices = [
            (ROUND_ROBIN, "Next in turn"), *[(str(i), name) for i, name in reviewers]]


class GuestLinkForm(forms.Form):
    guest_name = forms.CharField(max_length=150, label="Guest's name")
    guest_email = forms.EmailField(required=False, label="Guest's email")
    valid_days = forms.IntegerField(min_value=1, max_value=30, initial=3, label="Valid for (days)")


class GuestDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    draft_id = forms.IntegerField(required=False)
    comment = forms.CharField(max_length=10_000, required=False,
                              widget=forms.Textarea(attrs={"rows": 2}))


DUE_CHOICES = [("", "Any time"), ("overdue", "Overdue"), ("soon", "Due within 24 h"),
               ("none", "No due date")]


class QueueFilterForm(forms.Form):
    q = forms.CharField(max_length=200, required=False, label="Search",
                        widget=forms.TextInput(attrs={"type": "search"}))
    content_type = forms.TypedChoiceField(coerce=int, required=False, empty_value=None,
                                          label="Content type")
    target = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, label="Target")
    assignee = forms.TypedChoiceField(coerce=int, required=False, empty_value=None,
                                      label="Assignee")
    due = forms.ChoiceField(choices=DUE_CHOICES, required=False, label="Due")
    min_score = forms.FloatField(min_value=-1, max_value=1, required=False, label="Score at least")
    origin = forms.ChoiceField(choices=[("", "Any origin"), *Origin.choices], required=False,
                               label="Origin")
    view = forms.ChoiceField(choices=[("board", "Board"), ("table", "Table")], required=False,
                             widget=forms.HiddenInput)
    page = forms.IntegerField(min_value=1, required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, content_types: list[tuple[int, str]],
                 targets: list[tuple[int, str]], reviewers: list[tuple[int, str]],
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        form_field(self, "content_type", forms.ChoiceField).choices = [("", "Any type"),
                                                                    *content_types]
        form_field(self, "target", forms.ChoiceField).choices = [("", "Any target"), *targets]
        form_field(self, "assignee", forms.ChoiceField).choices = [("", "Anyone"), (0, "Nobody yet"),
                                                               *reviewers]

    def filters(self) -> QueueFilters:
        """The valid filters (an invalid one is ignored: the queue still shows)."""
        self.is_valid()
        data = self.cleaned_data  # the fields that validated
        return QueueFilters(content_type_id=data.get("content_type"),
                            target_id=data.get("target"), assignee_id=data.get("assignee"),
                            due=data.get("due") or "", min_score=data.get("min_score"),
                            origin=data.get("origin") or "", q=data.get("q") or "")


class IdsField(forms.TypedMultipleChoiceField):
    """Row ids: any whole number is a valid choice here; the service keeps to the
    workspace's rows."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(coerce=int, **kwargs)

    def valid_value(self, value: Any) -> bool:
        return str(value).isdigit()


class BulkForm(forms.Form):
    action = forms.ChoiceField(choices=[(k, label) for k, (label, _) in BULK_ACTIONS.items()],
                               label="With the selected briefs")
    brief_ids = IdsField(label="Briefs")
    reviewer = forms.CharField(max_length=20, required=False, initial=ROUND_ROBIN)
    comment = forms.CharField(max_length=10_000, required=False)

    def clean_brief_ids(self) -> list[int]:
        ids: list[int] = self.cleaned_data["brief_ids"]
        if len(ids) > BULK_MAX:
            raise forms.ValidationError(f"At most {BULK_MAX} briefs at once.")
        return ids


class UndoForm(forms.Form):
    """The publications just scheduled, cancelled again from the toast."""

    publication_ids = IdsField(label="Publications", widget=forms.MultipleHiddenInput)


class ProfileForm(forms.Form):
    time_zone = forms.ChoiceField(
        required=False, label="Time zone",
        help_text="Times are shown and read in it. Empty: the workspace's time zone.")

    def __init__(self, *args: Any, workspace_zone: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        form_field(self, "time_zone", forms.ChoiceField).choices = [
            ("", f"The workspace's ({workspace_zone})"),
            *[(name, name) for name in sorted(available_timezones())]]


class TrainingStartForm(forms.Form):
    kind = forms.ChoiceField(choices=TrainingKind.choices)
    parameters = forms.CharField(
        required=False, max_length=10_000, widget=forms.Textarea(attrs={"rows": 3}),
        help_text='A JSON object, e.g. {"steps": 200, "learning_rate": 0.0005}. '
                  "Empty: the defaults.")

    def clean_parameters(self) -> dict[str, Any]:
        text = self.cleaned_data["parameters"].strip()
        if not text:
            return {}
        try:
            parameters = json_checked(text)
        except JsonRejected as exc:
            raise forms.ValidationError(str(exc)) from None
        except ValueError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}.") from None
        if not isinstance(parameters, dict):
            raise forms.ValidationError('A JSON object of parameters, e.g. {"steps": 200}.')
        return parameters

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if "kind" in cleaned and "parameters" in cleaned:
            for message in training_parameters_errors(kind=cleaned["kind"],
                                                      parameters=cleaned["parameters"]):
                self.add_error("parameters", message)
        return cleaned
