"""Review decisions over REST: approve (and schedule publication), reject, request changes.

Each answers with the brief as it now stands, so a client needs no second call.
"""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from apps.accounts.api_auth import WorkspaceListApi
from apps.core.api import IdFilter
from apps.core.models import Workspace
from apps.reviews.models import Decision, Review
from apps.reviews.serializers import (
    ReviewListSerializer,
)


class ReviewFilter(django_filters.FilterSet):
    brief = IdFilter(field_name="brief_id")
    decision = django_filters.ChoiceFilter(choices=Decision.choices)


class ReviewListApi(WorkspaceListApi):
    read_scope = "briefs:read"
    serializer_class = ReviewListSerializer
    filterset_class = ReviewFilter

    def rows(self, workspace: Workspace) -> QuerySet[Review]:
        return Review.objects.filter(brief__workspace=workspace).select_related("reviewer",
                                                                                 "revision")
