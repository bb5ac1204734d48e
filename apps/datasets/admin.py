"""Datasets in the admin, read only: imports and builds go through the services (API, CLI)."""

from django.contrib import admin

from apps.accounts.admin_scoping import ReadOnlyAdmin, ReadOnlyInline
from apps.datasets.models import Dataset, DatasetImport, DatasetVersion


class DatasetImportInline(ReadOnlyInline[DatasetImport]):
    model = DatasetImport
    fields = ("source", "label", "state", "documents", "error", "created_at")
    readonly_fields = fields


@admin.register(Dataset)
class DatasetAdmin(ReadOnlyAdmin[Dataset]):
    list_display = ("id", "workspace", "name", "created_at")
    list_filter = (("workspace", admin.RelatedOnlyFieldListFilter),)
    list_select_related = ("workspace",)
    inlines = [DatasetImportInline]


@admin.register(DatasetVersion)
class DatasetVersionAdmin(ReadOnlyAdmin[DatasetVersion]):
    list_display = ("id", "workspace", "dataset", "number", "state", "progress", "finished_at")
    list_filter = ("state", ("workspace", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("workspace", "dataset")
