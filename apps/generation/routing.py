"""A/B routing: which registry version writes a brief's job.

A profile with a candidate version sends `candidate_share` of its briefs to it. The draw is
a hash of the profile and the brief, not a random number: a brief's regenerations and
retries stay with the version that wrote its first drafts, and the same brief lands on the
same side on every worker.
"""

from __future__ import annotations

import hashlib

from apps.generation.models import ModelProfile, ModelVersion
from workers.generation.types import LOCAL_BACKENDS


def ab_draw(*, profile_id: int, brief_id: int) -> float:
    """A number in [0, 1), uniform over briefs, fixed for a (profile, brief) pair."""
    digest = hashlib.sha256(f"ab:{profile_id}:{brief_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def job_model_version_id(*, profile: ModelProfile | None, brief_id: int) -> int | None:
    """The id of the version a job of this brief runs while the profile tests a candidate:
    the candidate when the draw falls in its share, else the version the profile runs (None
    for the built-in model or a model not in the registry). None outside a test: no query,
    as a job's creation is on the ingest path."""
    if (profile is None or profile.backend not in LOCAL_BACKENDS
            or profile.candidate_version_id is None):
        return None
    if ab_draw(profile_id=profile.pk, brief_id=brief_id) < profile.candidate_share:
        return profile.candidate_version_id
    return (ModelVersion.objects.filter(workspace_id=profile.workspace_id, folder=profile.model)
            .values_list("pk", flat=True).first())
