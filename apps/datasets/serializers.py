"""The API's shapes of datasets, their imports and versions."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.datasets.models import Dataset, DatasetImport, DatasetVersion, ImportSource
from apps.generation.serializers import TrainingRunCreateSerializer

IMPORTABLE = (ImportSource.PUBLISHED, ImportSource.APPROVED, ImportSource.FEEDS,
              ImportSource.TARGET)


class DatasetImportSerializer(serializers.ModelSerializer[DatasetImport]):
    class Meta:
        model = DatasetImport
        fields = ["id", "source", "label", "target_id", "state", "documents", "error",
                  "created_at"]
        read_only_fields = fields


class DatasetVersionSerializer(serializers.ModelSerializer[DatasetVersion]):
    dataset_name = serializers.CharField(source="dataset.name", read_only=True)

    class Meta:
        model = DatasetVersion
        fields = ["id", "dataset_id", "dataset_name", "number", "state", "progress", "options",
                  "import_ids", "stats", "error", "created_at", "finished_at"]
        read_only_fields = fields


class DatasetVersionDetailSerializer(DatasetVersionSerializer):
    class Meta(DatasetVersionSerializer.Meta):
        fields = [*DatasetVersionSerializer.Meta.fields, "samples", "card"]
        read_only_fields = fields


class DatasetSerializer(serializers.ModelSerializer[Dataset]):
    class Meta:
        model = Dataset
        fields = ["id", "name", "description", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]


class DatasetDetailSerializer(DatasetSerializer):
    imports = DatasetImportSerializer(many=True, read_only=True)
    versions = DatasetVersionSerializer(many=True, read_only=True)

    class Meta(DatasetSerializer.Meta):
        fields = [*DatasetSerializer.Meta.fields, "imports", "versions"]


class DatasetImportRequestSerializer(serializers.Serializer[Any]):
    """Either a `file` (multipart), or a `source` to read from the workspace itself."""

    file = serializers.FileField(required=False, help_text="txt, md, html, csv, jsonl, or a zip")
    # DRF moves declared fields off the class, so this one does not replace Field.source.
    source = serializers.ChoiceField(  # type: ignore[assignment]
        choices=[(s.value, s.label) for s in IMPORTABLE], required=False)
    target_id = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1,
                                         help_text="with source=target: a WordPress or Ghost "
                                                   "target of the workspace")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("file" in attrs) == ("source" in attrs):
            raise serializers.ValidationError("Send either a file or a source.")
        if attrs.get("source") == ImportSource.TARGET and "target_id" not in attrs:
            raise serializers.ValidationError({"target_id": ["A target import names the target."]})
        return attrs


class DatasetBuildSerializer(serializers.Serializer[Any]):
    options = serializers.DictField(required=False, default=dict, help_text=(
        "min_chars, max_chars, languages (ISO 639-1 codes), near_duplicate_threshold, "
        "scrub_pii, remove_boilerplate, seed, validation_share, test_share"))


class DatasetTrainSerializer(TrainingRunCreateSerializer):
    base_version_id = serializers.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1,
        help_text="finetune: a model version of the workspace to start from (default: the "
                  "built-in model)")
    base_model = serializers.CharField(
        required=False, max_length=500, help_text="finetune: a local Hugging Face causal LM "
        "folder to start from, in the workspace's own or the shared models folder; with "
        "parameters.lora_rank it learns LoRA adapters (peft), merged when saved")
