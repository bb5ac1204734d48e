"""Reads for datasets: the workspace's datasets and versions, and the texts it can import."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.datasets.models import Dataset, DatasetVersion
from apps.integrations.models import FeedEntry


def datasets(*, workspace_id: int) -> QuerySet[Dataset]:
    return Dataset.objects.filter(workspace_id=workspace_id)


def dataset_versions(*, workspace_id: int) -> QuerySet[DatasetVersion]:
    return DatasetVersion.objects.filter(workspace_id=workspace_id).select_related("dataset")


def feed_entry_texts(*, workspace_id: int) -> list[tuple[str, str, str]]:
    """(entry id, title, HTML) of every feed entry the workspace's feeds brought in, oldest
    first: the entry's content as its brief kept it. One query."""
    rows = (FeedEntry.objects.filter(feed__workspace_id=workspace_id, brief__isnull=False)
            .order_by("id").values_list("entry_id", "brief__title", "brief__source_material"))
    return [(entry_id, title or "", material or "") for entry_id, title, material in rows]
