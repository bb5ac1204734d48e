"""Reads for datasets: the workspace's datasets and versions, and the texts it can import."""

from __future__ import annotations

from django.db.models import Count, Max, QuerySet

from apps.datasets.models import Dataset, DatasetVersion
from apps.integrations.models import FeedEntry
from apps.publishing.models import Publication
from apps.publishing.selectors import engagement_totals, engagement_weights
from apps.reviews.models import Decision, Review


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


def approved_revisions_after(*, workspace_id: int, revision_id: int) -> tuple[int, int]:
    """(how many, the last id) of the revisions reviewers approved in the workspace after
    revision `revision_id` (ids grow over time, an edit's revision included): the approved
    pieces a retrain waits for. The last id is `revision_id` when there are none. One query.
    """
    found = (Review.objects.filter(brief__workspace_id=workspace_id, decision=Decision.APPROVE,
                                   superseded=False, revision_id__gt=revision_id)
             .aggregate(n=Count("revision_id", distinct=True), last=Max("revision_id")))
    return found["n"], found["last"] or revision_id


def approved_revision_texts(*, workspace_id: int) -> list[tuple[int, str, str, int]]:
    """(revision id, brief title, text, weight) of each revision a reviewer approved in the
    workspace, oldest first: the reviewer's edited text where they edited (the model's own
    where they did not). An approval an edit superseded does not count, and a rejected
    draft's text never appears: only approved revisions are read. The weight is the
    engagement rule of `engagement_weights` over the revisions' published posts. Two queries.
    """
    rows = list(Review.objects.filter(brief__workspace_id=workspace_id,
                                      decision=Decision.APPROVE, superseded=False,
                                      revision__isnull=False)
                .order_by("revision_id").distinct()
                .values_list("revision_id", "brief__title", "revision__text"))
    totals = engagement_totals(Publication.objects.filter(
        workspace_id=workspace_id, revision_id__in=[r[0] for r in rows]), by="revision_id")
    weights = engagement_weights([totals.get(pk) for pk, _, _ in rows])
    return [(pk, title, text, weight)
            for (pk, title, text), weight in zip(rows, weights, strict=True)]
