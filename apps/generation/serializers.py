"""The API's shapes of a job (with its drafts' scores, and what it cost), of model profiles, of
usage and budgets, and of training runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.briefs.serializers import BriefRefSerializer
from apps.core.serializers import WorkspaceScopedSerializer
from apps.generation.models import (
    Backend,
    Draft,
    GenerationJob,
    ModelProfile,
    TrainingKind,
    TrainingRun,
)
from apps.generation.training import training_parameters_errors


class JobSerializer(serializers.ModelSerializer[GenerationJob]):
    url = serializers.SerializerMethodField()
    events = serializers.SerializerMethodField(help_text="websocket path of the job's events")

    class Meta:
        model = GenerationJob
        fields = [
            "id", "url", "events", "brief_id", "state", "variants", "attempts", "worker_id",
            "error", "prompt_tokens", "completion_tokens", "created_at", "started_at",
            "heartbeat_at", "generated_at", "finished_at",
        ]

    def get_url(self, job: GenerationJob) -> str:
        return reverse("api:job-detail", kwargs={"job_id": job.pk})

    def get_events(self, job: GenerationJob) -> str:
        return f"/ws/jobs/{job.pk}/"


class DraftScoreSerializer(serializers.ModelSerializer[Draft]):
    score = serializers.SerializerMethodField()

    class Meta:
        model = Draft
        fields = ["id", "variant", "score"]

    def get_score(self, draft: Draft) -> float | None:
        evaluation = getattr(draft, "evaluation", None)  # absent until evaluated
        return evaluation.score if evaluation else None


class JobDetailSerializer(JobSerializer):
    brief = BriefRefSerializer()
    drafts = DraftScoreSerializer(many=True)

    class Meta(JobSerializer.Meta):
        fields = [*JobSerializer.Meta.fields, "brief", "drafts"]


def _number(name: str, value: object, low: float, high: float, whole: bool = False) -> str:
    kinds = int if whole else int | float
    if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
        return f"'{name}' must be a {'whole ' if whole else ''}number from {low} to {high}."
    return ""


# What the generation workers read from a profile (workers/generation/requests.py), with the
# ranges the API accepts: name -> message for a bad value, or "".
# Each check answers "" for a good value, else the error message.
MODEL_PARAMETERS: dict[str, Callable[[Any], str]] = {
    "temperature": lambda v: _number("temperature", v, 0, 2),
    # one per variant, cycled: variant i samples at temperatures[i % len]
    "temperatures": lambda v: "" if isinstance(v, list) and 0 < len(v) <= 16 and not any(
        _number("temperatures", t, 0, 2) for t in v)
        else "'temperatures' must be a list of 1 to 16 numbers from 0 to 2.",
    "top_p": lambda v: _number("top_p", v, 0.01, 1),
    "max_new_tokens": lambda v: _number("max_new_tokens", v, 1, 4096, whole=True),
    "min_new_tokens": lambda v: _number("min_new_tokens", v, 0, 4096, whole=True),
    "seed": lambda v: _number("seed", v, 0, 2**62, whole=True),
    "stop": lambda v: "" if isinstance(v, list) and len(v) <= 8 and all(
        isinstance(s, str) and 0 < len(s) <= 100 for s in v)
        else "'stop' must be a list of at most 8 non-empty strings.",
    "chat": lambda v: "" if isinstance(v, bool) else "'chat' must be true or false.",
}


class ModelProfileSerializer(WorkspaceScopedSerializer[ModelProfile]):
    """A model profile; its API key (openai backend) is write-only: "" removes it."""

    parameters = serializers.DictField(required=False, help_text=", ".join(MODEL_PARAMETERS))
    queue = serializers.RegexField(r"^[a-z0-9][a-z0-9._-]*$", max_length=60, required=False)
    device = serializers.RegexField(r"^(auto|cpu|mps|cuda(:[0-9]{1,2})?)$", max_length=20,
                                    required=False,
                                    error_messages={"invalid": "auto, cpu, mps, cuda or cuda:N."})
    api_key_env = serializers.RegexField(
        r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=100, required=False, allow_blank=True,
        error_messages={"invalid": "An environment variable name."})
    # Inference servers often sit on bare internal hosts (http://gpu:8000/v1), which Django's
    # URL validator refuses.
    base_url = serializers.RegexField(
        r"^https?://[^\s/?#]+(/[^\s]*)?$", max_length=500, required=False, allow_blank=True,
        error_messages={"invalid": "An http(s) URL such as http://gpu:8000/v1."})
    timeout_s = serializers.IntegerField(min_value=1, max_value=86_400, required=False)
    api_key = serializers.CharField(write_only=True, required=False, allow_blank=True,
                                    max_length=500, trim_whitespace=False)
    has_api_key = serializers.SerializerMethodField()

    class Meta:
        model = ModelProfile
        fields = ["id", "name", "backend", "model", "parameters", "queue", "device", "base_url",
                  "api_key_env", "api_key", "has_api_key", "timeout_s", "created_at",
                  "updated_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # What the workers need to run the backend, as the row will read after this write.
        merged = {name: attrs.get(name, getattr(self.instance, name, ""))
                  for name in ("backend", "model", "base_url")}
        errors = {}
        if merged["backend"] in (Backend.TRANSFORMERS, Backend.OPENAI) and not merged["model"]:
            errors["model"] = [f"The {merged['backend']} backend needs a model name."]
        if merged["backend"] == Backend.OPENAI and not merged["base_url"]:
            errors["base_url"] = ["An openai profile needs the server's base URL."]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def get_has_api_key(self, profile: ModelProfile) -> bool:
        return bool(profile.api_key_encrypted)

    def validate_parameters(self, value: dict[str, Any]) -> dict[str, Any]:
        errors = [f"Unknown parameter '{name}'; known: {', '.join(MODEL_PARAMETERS)}."
                  for name in value if name not in MODEL_PARAMETERS]
        errors += [message for name, check in MODEL_PARAMETERS.items()
                   if name in value and (message := check(value[name]))]
        if not errors and value.get("min_new_tokens", 0) > value.get("max_new_tokens", 4096):
            errors.append("'min_new_tokens' must not exceed 'max_new_tokens'.")
        if errors:
            raise serializers.ValidationError(errors)
        return value


ACCOUNTING_FIELDS = [
    "retries", "latency_s", "first_token_s", "device_seconds", "model_profile_id", "model_name",
    "model_revision", "prompt_template_version_id", "prompt_template_version",
]


class JobAccountingSerializer(JobSerializer):
    """A job with what it cost."""

    # Expects a job from `jobs_with_accounting` (no query per row).

    model_name = serializers.CharField(
        allow_null=True, read_only=True, help_text="the model that wrote the drafts; null before")
    model_revision = serializers.CharField(allow_null=True, read_only=True)
    prompt_template_version = serializers.IntegerField(
        source="prompt_template_version.version", allow_null=True, read_only=True,
        help_text="the content type's template version the prompt was rendered from")

    class Meta(JobSerializer.Meta):
        fields = [*JobSerializer.Meta.fields, *ACCOUNTING_FIELDS]


class JobAccountingDetailSerializer(JobAccountingSerializer, JobDetailSerializer):
    class Meta(JobDetailSerializer.Meta):
        fields = [*JobDetailSerializer.Meta.fields, *ACCOUNTING_FIELDS]


class UsageQuerySerializer(serializers.Serializer[Any]):
    since = serializers.DateField(required=False, help_text="YYYY-MM-DD (UTC); default: the "
                                                            "first day of this month")


class UsageRowSerializer(serializers.Serializer[Any]):
    model = serializers.CharField(source="key")
    jobs = serializers.IntegerField()
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    device_seconds = serializers.FloatField()
    mean_latency_s = serializers.FloatField(allow_null=True)
    mean_first_token_s = serializers.FloatField(allow_null=True)


class UsageTotalsSerializer(serializers.Serializer[Any]):
    jobs = serializers.IntegerField()
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    tokens = serializers.IntegerField()
    device_seconds = serializers.FloatField()


class BudgetSerializer(serializers.Serializer[Any]):
    """This calendar month (UTC) against the workspace's caps; null caps are unlimited."""

    month_start = serializers.DateTimeField()
    resets_at = serializers.DateTimeField()
    monthly_tokens = serializers.IntegerField(allow_null=True)
    monthly_device_seconds = serializers.FloatField(allow_null=True)
    tokens_used = serializers.IntegerField(source="used.tokens")
    device_seconds_used = serializers.FloatField(source="used.device_seconds")
    tokens_left = serializers.IntegerField(allow_null=True)
    device_seconds_left = serializers.FloatField(allow_null=True)


class TrainingUsageSerializer(serializers.Serializer[Any]):
    runs = serializers.IntegerField()
    tokens = serializers.IntegerField(help_text="tokens trained on")
    device_seconds = serializers.FloatField(help_text="seconds a worker held the runs")


class BudgetLeftSerializer(serializers.Serializer[Any]):
    tokens = serializers.IntegerField(allow_null=True)
    device_seconds = serializers.FloatField(allow_null=True)


class UsageSerializer(serializers.Serializer[Any]):
    since = serializers.DateTimeField()
    models = UsageRowSerializer(many=True, help_text="jobs that generated since `since`, "
                                                     "per model")
    totals = UsageTotalsSerializer()
    budget = BudgetSerializer(help_text="the month's caps against what generation used")
    training = TrainingUsageSerializer(help_text="training runs started since `since`")
    budget_left = BudgetLeftSerializer(help_text="what generation and training together left "
                                                 "of the month's caps (null: no cap); a new "
                                                 "job or run is refused at 0")


class TrainingRunSerializer(serializers.ModelSerializer[TrainingRun]):
    url = serializers.SerializerMethodField()

    class Meta:
        model = TrainingRun
        fields = ["id", "url", "kind", "state", "parameters", "base_model", "output_model",
                  "revision", "documents", "steps", "final_loss", "heldout_perplexity_before",
                  "heldout_perplexity_after", "error", "created_at", "started_at", "finished_at",
                  "tokens_trained", "device_seconds"]

    def get_url(self, run: TrainingRun) -> str:
        return reverse("api:training-run-detail", kwargs={"pk": run.pk})


@extend_schema_field({"type": "array", "items": {
    "type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}})
class LossCurveField(serializers.JSONField):
    """[step, loss] pairs as stored: steps stay whole numbers."""


class TrainingRunDetailSerializer(TrainingRunSerializer):
    losses = LossCurveField(
        source="loss_curve", read_only=True,
        help_text="[step, loss] pairs recorded so far (every 10 steps, at most 2,000); live "
                  "ones arrive as `training.progress` events on /ws/workspace/")

    class Meta(TrainingRunSerializer.Meta):
        fields = [*TrainingRunSerializer.Meta.fields, "losses"]


class TrainingRunCreateSerializer(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=TrainingKind.choices)
    parameters = serializers.DictField(required=False, default=dict, help_text=(
        "train: steps and the model's shape (vocab_size, n_layer, n_head, n_embd, block_size) "
        "and optimisation (batch_size, learning_rate, warmup_steps, max_seconds, seed, ...); "
        "finetune: steps, learning_rate, batch_size, max_seconds, seed, threads, lora_rank "
        "(learn LoRA adapters of that rank, merged when saved, instead of every weight), and "
        "min_engagement (leave out published texts the audience engaged with less)"))

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        errors = training_parameters_errors(kind=attrs["kind"], parameters=attrs["parameters"])
        if errors:
            raise serializers.ValidationError({"parameters": errors})
        return attrs
