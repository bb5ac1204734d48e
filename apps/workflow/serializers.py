"""The API's shape of a brief with its whole pipeline: jobs, drafts, reviews, publications."""

from __future__ import annotations

from apps.briefs.serializers import BriefListSerializer
from apps.evaluation.serializers import DraftSerializer
from apps.generation.serializers import JobSerializer
from apps.publishing.serializers import PublicationSerializer
from apps.reviews.serializers import ReviewSerializer


class BriefDetailSerializer(BriefListSerializer):
    """Expects a brief from `brief_detail` (its relations prefetched)."""

    jobs = JobSerializer(many=True)
    drafts = DraftSerializer(many=True)
    reviews = ReviewSerializer(many=True)
    publications = PublicationSerializer(many=True)

    class Meta(BriefListSerializer.Meta):
        fields = [
            *BriefListSerializer.Meta.fields, "topic", "audience", "tone", "keywords",
            "source_material", "reference_texts", "style_guide_id", "feedback", "jobs", "drafts",
            "reviews", "publications",
        ]
