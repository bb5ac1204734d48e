"""The API's shapes of a job's accounting, of usage and budgets, and of training runs."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.briefs.serializers import JobDetailSerializer, JobSerializer
from apps.generation.models import TrainingKind, TrainingRun
from apps.generation.training import training_parameters_errors

ACCOUNTING_FIELDS = [
    "retries", "latency_s", "first_token_s", "device_seconds", "model_profile_id", "model_name",
    "model_revision", "prompt_template_version_id", "prompt_template_version",
]


class JobAccountingSerializer(JobSerializer):
    """A job with what it cost; expects a job from `jobs_with_accounting` (no query per row)."""

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


class UsageQuerySerializer(serializers.Serializer):
    since = serializers.DateField(required=False, help_text="YYYY-MM-DD (UTC); default: the "
                                                            "first day of this month")


class UsageRowSerializer(serializers.Serializer):
    model = serializers.CharField(source="key")
    jobs = serializers.IntegerField()
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    device_seconds = serializers.FloatField()
    mean_latency_s = serializers.FloatField(allow_null=True)
    mean_first_token_s = serializers.FloatField(allow_null=True)


class UsageTotalsSerializer(serializers.Serializer):
    jobs = serializers.IntegerField()
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    tokens = serializers.IntegerField()
    device_seconds = serializers.FloatField()


class BudgetSerializer(serializers.Serializer):
    """This calendar month (UTC) against the workspace's caps; null caps are unlimited."""

    month_start = serializers.DateTimeField()
    resets_at = serializers.DateTimeField()
    monthly_tokens = serializers.IntegerField(allow_null=True)
    monthly_device_seconds = serializers.FloatField(allow_null=True)
    tokens_used = serializers.IntegerField(source="used.tokens")
    device_seconds_used = serializers.FloatField(source="used.device_seconds")
    tokens_left = serializers.IntegerField(allow_null=True)
    device_seconds_left = serializers.FloatField(allow_null=True)


class UsageSerializer(serializers.Serializer):
    since = serializers.DateTimeField()
    models = UsageRowSerializer(many=True, help_text="jobs that generated since `since`, "
                                                     "per model")
    totals = UsageTotalsSerializer()
    budget = BudgetSerializer()


class TrainingRunSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = TrainingRun
        fields = ["id", "url", "kind", "state", "parameters", "base_model", "output_model",
                  "revision", "documents", "steps", "final_loss", "heldout_perplexity_before",
                  "heldout_perplexity_after", "error", "created_at", "started_at", "finished_at"]

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


class TrainingRunCreateSerializer(serializers.Serializer):
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
