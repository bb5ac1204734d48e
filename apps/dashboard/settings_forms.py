"""Forms of the workspace settings pages: they parse and validate input; the services decide.

Secrets are write-only: their fields never render a value back, and an empty one keeps
what is stored.
"""

from __future__ import annotations

import json
from typing import Any, cast

from django import forms
from django.contrib.auth.models import User

from apps.accounts.models import Role
from apps.apikeys.models import Scope
from apps.briefs.models import ContentType
from apps.core.json_input import json_checked
from apps.evaluation import gating
from apps.generation.models import Backend
from apps.publishing.connectors.base import TargetSchema


def _json_text(value: Any) -> str:
    """A value as its field shows it: text as typed, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class JsonField(forms.CharField):
    """JSON typed in a textarea, parsed with the API's limits; `kind` is the value's type."""

    def __init__(self, *, kind: type, example: str, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}))
        kwargs.setdefault("max_length", 20_000)
        super().__init__(**kwargs)
        self.kind, self.example = kind, example

    def prepare_value(self, value: Any) -> Any:
        return _json_text(value)

    def clean(self, value: Any) -> Any:
        text = super().clean(value).strip()
        if not text:
            return self.kind()
        try:
            parsed = json_checked(text)
        except ValueError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}") from None
        if not isinstance(parsed, self.kind):
            raise forms.ValidationError(f"Expected a JSON {self.kind.__name__}, e.g. "
                                        f"{self.example}.")
        return parsed


def _secret_field(label: str, stored: bool, help_text: str) -> forms.CharField:
    """A write-only secret: never rendered back; empty keeps the stored one."""
    state = "A secret is stored; leave empty to keep it." if stored else "None stored."
    return forms.CharField(label=label, required=False, max_length=2000,
                           widget=forms.PasswordInput(render_value=False,
                                                      attrs={"autocomplete": "new-password"}),
                           help_text=f"{help_text} {state}".strip())


def member_users(workspace_id: int) -> Any:
    return User.objects.filter(memberships__workspace_id=workspace_id).order_by("username")


class MemberAddForm(forms.Form):
    username = forms.RegexField(r"^[\w.@+-]+\Z", max_length=150,
                                help_text="Someone without an account is invited.")
    email = forms.EmailField(required=False,
                             help_text="Needed to invite someone: the link to set their "
                                       "password goes there.")
    role = forms.ChoiceField(choices=Role.choices)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=120)
    user = forms.ModelChoiceField(queryset=User.objects.none(), label="Acts as",
                                  help_text="The member whose role the key acts with.")
    scopes = forms.MultipleChoiceField(choices=Scope.choices, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args: Any, workspace_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast("forms.ModelChoiceField[Any]", self.fields["user"]).queryset = member_users(workspace_id)


def _config_value(text: str) -> Any:
    """A config value as typed: true/false and whole numbers as such, a JSON list as a list,
    anything else as text (the connector's schema then checks it)."""
    if text in ("true", "false"):
        return text == "true"
    if text.isdigit():
        return int(text)
    if text.startswith("["):
        return json_checked(text)
    return text


class TargetForm(forms.Form):
    """A target of one kind: its config keys are fields, as its connector's schema lists them."""

    name = forms.CharField(max_length=120)
    enabled = forms.BooleanField(required=False, initial=True)
    auto_publish = forms.BooleanField(required=False, initial=True,
                                      help_text="Publish on approval.")
    min_interval_s = forms.IntegerField(min_value=0, max_value=86_400 * 7, initial=0,
                                        label="Seconds between two posts",
                                        help_text="Rate limit; 0: none.")

    def __init__(self, *args: Any, schema: TargetSchema, secret_stored: bool,
                 config: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.schema = schema
        config = config or {}
        for setting in schema.settings:
            self.fields[f"config_{setting.name}"] = forms.CharField(
                label=setting.name, required=setting.required, max_length=2000,
                help_text=setting.holds,
                initial=_json_text(config[setting.name]) if setting.name in config else "")
        if schema.schedules:
            self.fields["config_schedule_on_target"] = forms.BooleanField(
                label="Hold posts on the target until their time", required=False,
                initial=bool(config.get("schedule_on_target")))
        if schema.secret:
            self.fields["secret"] = _secret_field("Secret", secret_stored, schema.secret)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        config: dict[str, Any] = {}
        for setting in self.schema.settings:
            text = (cleaned.get(f"config_{setting.name}") or "").strip()
            if not text:
                continue
            try:
                config[setting.name] = _config_value(text)
            except ValueError as exc:
                self.add_error(f"config_{setting.name}", f"Not a JSON list: {exc}")
        if cleaned.get("config_schedule_on_target"):
            config["schedule_on_target"] = True
        cleaned["config"] = config
        return cleaned

    def target_fields(self) -> dict[str, Any]:
        """What target_create and target_update take (the secret apart)."""
        data = self.cleaned_data
        return {"name": data["name"], "config": data["config"], "enabled": data["enabled"],
                "auto_publish": data["auto_publish"], "min_interval_s": data["min_interval_s"]}


class GateForm(forms.Form):
    name = forms.CharField(max_length=120)
    rules = JsonField(kind=list, example='[{"metric": "relevance", "min": 0.3}]', required=False,
                      widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
                      help_text='Each rule: {"metric": …, "min": …, "max": …, "severity": '
                                '"fail" (blocks) or "warn" (sends to a reviewer)}.')
    weights = JsonField(kind=dict, example='{"relevance": 0.6, "length_fit": 0.4}',
                        required=False, help_text="Ranking weights; empty: the scorer's score.")

    def clean_rules(self) -> list[dict[str, Any]]:
        rules: list[dict[str, Any]] = self.cleaned_data["rules"]
        if not all(isinstance(rule, dict) for rule in rules):
            raise forms.ValidationError("Each rule is a JSON object.")
        try:
            gating.rules_from(rules)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        return rules


class ApprovalPolicyForm(forms.Form):
    approvals_required = forms.IntegerField(min_value=1, max_value=10, initial=1)
    distinct_reviewers = forms.BooleanField(required=False, initial=True,
                                            help_text="Each approval from a different reviewer.")
    round_robin = forms.BooleanField(required=False,
                                     help_text="Assign briefs reaching review in turn.")
    review_sla_hours = forms.IntegerField(min_value=1, max_value=24 * 90, required=False,
                                          label="Remind the reviewer after (hours)")
    escalate_after_hours = forms.IntegerField(min_value=1, max_value=24 * 90, required=False,
                                              label="Escalate after (hours)")
    escalate_to = forms.ModelChoiceField(queryset=User.objects.none(), required=False,
                                         label="Escalate to",
                                         help_text="Empty: the next reviewer in turn.")

    def __init__(self, *args: Any, workspace_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast("forms.ModelChoiceField[Any]", self.fields["escalate_to"]).queryset = member_users(
            workspace_id)


class ModelProfileForm(forms.Form):
    name = forms.CharField(max_length=120)
    backend = forms.ChoiceField(choices=Backend.choices)
    model = forms.CharField(max_length=500, required=False,
                            help_text="builtin/transformers: a model folder (or builtin); "
                                      "openai: the server's model name.")
    parameters = JsonField(kind=dict, example='{"temperature": 0.8, "max_new_tokens": 400}',
                           required=False, help_text="Defaults: temperature, top_p, "
                                                     "max_new_tokens.")
    queue = forms.CharField(max_length=60, initial="generation")
    device = forms.CharField(max_length=20, initial="auto", help_text="auto, cpu, cuda, cuda:1.")
    base_url = forms.URLField(max_length=500, required=False, assume_scheme="https",
                              help_text="openai: the server's base URL.")
    api_key_env = forms.CharField(max_length=100, required=False, label="API key variable",
                                  help_text="openai: the workers' environment variable "
                                            "holding the key.")
    timeout_s = forms.IntegerField(min_value=10, max_value=86_400, initial=600,
                                   label="Timeout (seconds)")

    def __init__(self, *args: Any, key_stored: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["api_key"] = _secret_field("API key", key_stored,
                                               "openai: stored encrypted.")

    def profile_fields(self) -> dict[str, Any]:
        """What model_profile_create and model_profile_update take (the key apart)."""
        return {name: value for name, value in self.cleaned_data.items() if name != "api_key"}


class EndpointForm(forms.Form):
    name = forms.CharField(max_length=120)
    slug = forms.SlugField(max_length=80, help_text="Senders post to /api/v1/hooks/<slug>/.")
    content_type = forms.ModelChoiceField(queryset=ContentType.objects.none())
    field_mapping = JsonField(kind=dict, example='{"title": "article.headline"}', required=False,
                              help_text="Brief fields to dotted paths in the sender's JSON.")
    defaults = JsonField(kind=dict, example='{"language": "en"}', required=False,
                         help_text="Brief fields the sender does not send.")

    def __init__(self, *args: Any, workspace_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast("forms.ModelChoiceField[Any]", self.fields["content_type"]).queryset = (
            ContentType.objects.filter(workspace_id=workspace_id).order_by("name"))


class SubscriptionForm(forms.Form):
    name = forms.CharField(max_length=120)
    url = forms.URLField(max_length=1000, label="URL", assume_scheme="https")
    event_types = forms.CharField(max_length=2000, initial="brief.*",
                                  help_text="Comma separated globs, e.g. brief.*, job.failed.")

    def clean_event_types(self) -> list[str]:
        return [p.strip() for p in self.cleaned_data["event_types"].split(",") if p.strip()]
