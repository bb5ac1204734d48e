"""Forms of the dataset and model-registry pages: they parse input; the services check it
(`cleaning_options`, `training_run_create`, the registry's rules) and a refusal comes back as
a form error."""

from __future__ import annotations

from typing import Any

from django import forms

from apps.core.errors import DomainError
from apps.core.forms import form_field
from apps.dashboard.forms import TrainingStartForm
from apps.datasets.models import Dataset, ImportSource
from apps.datasets.services import TARGET_KINDS, cleaning_options
from apps.generation.models import ModelProfile, ModelVersion, TrainingKind
from apps.generation.registry import model_profiles_promotable
from apps.publishing.models import PublishingTarget
from workers.datasets.types import CleaningOptions


class DatasetForm(forms.Form):
    name = forms.CharField(max_length=120)
    description = forms.CharField(max_length=5000, required=False,
                                  widget=forms.Textarea(attrs={"rows": 2}))


class ImportForm(forms.Form):
    source = forms.ChoiceField(choices=ImportSource.choices, widget=forms.RadioSelect,
                               initial=ImportSource.UPLOAD)
    file = forms.FileField(required=False,
                           help_text="txt, md, html, csv or jsonl, or a zip of them.")
    target = forms.ModelChoiceField(queryset=PublishingTarget.objects.none(), required=False,
                                    help_text="A WordPress or Ghost target: its posts are "
                                              "fetched by a job.")

    def __init__(self, *args: Any, workspace_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        form_field(self, "target", forms.ModelChoiceField).queryset = (
            PublishingTarget.objects.filter(workspace_id=workspace_id, kind__in=TARGET_KINDS)
            .order_by("name"))

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        source = cleaned.get("source")
        if source == ImportSource.UPLOAD and not cleaned.get("file"):
            self.add_error("file", "Choose a file to upload.")
        if source == ImportSource.TARGET and not cleaned.get("target"):
            self.add_error("target", "Choose the target to import posts from.")
        return cleaned


_DEFAULTS = CleaningOptions()


class BuildForm(forms.Form):
    """The cleaning options, defaulting to the engine's; `cleaning_options` judges them."""

    min_chars = forms.IntegerField(initial=_DEFAULTS.min_chars, help_text="Characters.")
    max_chars = forms.IntegerField(initial=_DEFAULTS.max_chars, help_text="Characters.")
    languages = forms.CharField(required=False, max_length=200,
                                help_text="ISO 639-1 codes kept, comma separated, e.g. en, zh. "
                                          "Empty: every language.")
    near_duplicate_threshold = forms.FloatField(initial=_DEFAULTS.near_duplicate_threshold,
                                                help_text="Estimated Jaccard index, 0.05 to 1.")
    scrub_pii = forms.BooleanField(required=False, initial=_DEFAULTS.scrub_pii,
                                   label="Scrub personal data")
    remove_boilerplate = forms.BooleanField(required=False,
                                            initial=_DEFAULTS.remove_boilerplate)
    seed = forms.IntegerField(initial=_DEFAULTS.seed, help_text="The split's seed.")
    validation_share = forms.FloatField(initial=_DEFAULTS.validation_share)
    test_share = forms.FloatField(initial=_DEFAULTS.test_share,
                                  help_text="Training measures the held-out perplexity on it.")

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if self.errors:
            return cleaned
        options = {**cleaned, "languages": [code.strip().lower() for code in
                                             cleaned["languages"].split(",") if code.strip()]}
        try:
            cleaning_options(options)
        except DomainError as exc:
            raise forms.ValidationError(str(exc)) from None
        cleaned["options"] = options
        return cleaned


def _active_versions(form: forms.Form, name: str, workspace_id: int) -> None:
    form_field(form, name, forms.ModelChoiceField).queryset = ModelVersion.objects.filter(
        workspace_id=workspace_id, archived_at__isnull=True)


class DatasetTrainForm(TrainingStartForm):
    """A run on a dataset version: the kind and parameters checked as on the Training page,
    plus what fine-tuning starts from."""

    base_version = forms.ModelChoiceField(
        queryset=ModelVersion.objects.none(), required=False,
        help_text="Fine-tuning: a version of this workspace to start from. Empty: the "
                  "built-in model.")
    base_model = forms.CharField(
        max_length=500, required=False,
        help_text="Fine-tuning: a local Hugging Face causal LM folder, in this workspace's or "
                  "the shared models folder, instead.")

    def __init__(self, *args: Any, workspace_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # On this version's texts, not the published ones.
        form_field(self, "kind", forms.ChoiceField).choices = [
            (TrainingKind.TRAIN, TrainingKind.TRAIN.label),
            (TrainingKind.FINETUNE, "Fine-tune a model on this version")]
        _active_versions(self, "base_version", workspace_id)


class PromoteForm(forms.Form):
    profile = forms.ModelChoiceField(queryset=ModelProfile.objects.none(),
                                     label="Model profile")

    def __init__(self, *args: Any, workspace_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        form_field(self, "profile", forms.ModelChoiceField).queryset = (
            model_profiles_promotable(workspace_id=workspace_id))


class CandidateForm(forms.Form):
    """A profile's A/B test: a version tried on a share of its briefs (no version: it ends)."""

    version = forms.ModelChoiceField(queryset=ModelVersion.objects.none(), required=False,
                                     label="Candidate version")
    share = forms.FloatField(min_value=0.0, max_value=1.0, initial=0.1,
                             help_text="0 to 1: the share of briefs the candidate writes.")

    def __init__(self, *args: Any, workspace_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _active_versions(self, "version", workspace_id)


class RetrainPolicyForm(TrainingStartForm):
    """The workspace's retrain schedule; its fine-tuning parameters are checked as on the
    Training page (the kind is always fine-tuning)."""

    enabled = forms.BooleanField(required=False, initial=True, label="Retrain on schedule")
    approved_threshold = forms.IntegerField(min_value=1, label="N approved pieces",
                                            help_text="Retrain once this many new pieces "
                                                      "have been approved.")
    dataset = forms.ModelChoiceField(queryset=Dataset.objects.none(),
                                     help_text="The approved revisions are imported into it.")
    base_version = forms.ModelChoiceField(queryset=ModelVersion.objects.none(), required=False,
                                          help_text="Fine-tuned from. Empty: the built-in "
                                                    "model.")
    profile = forms.ModelChoiceField(queryset=ModelProfile.objects.none(),
                                     label="Candidate for",
                                     help_text="The new version is tried on this profile's "
                                               "briefs; promoting it is yours to decide.")
    candidate_share = forms.FloatField(min_value=0.0, max_value=1.0, initial=0.1,
                                       label="Candidate's share")

    def __init__(self, *args: Any, workspace_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        kind = form_field(self, "kind", forms.ChoiceField)
        kind.required, kind.widget = False, forms.HiddenInput()
        form_field(self, "dataset", forms.ModelChoiceField).queryset = Dataset.objects.filter(
            workspace_id=workspace_id).order_by("name")
        _active_versions(self, "base_version", workspace_id)
        form_field(self, "profile", forms.ModelChoiceField).queryset = (
            model_profiles_promotable(workspace_id=workspace_id))

    def clean_kind(self) -> str:
        return TrainingKind.FINETUNE
