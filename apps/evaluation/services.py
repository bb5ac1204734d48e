"""Recording a job's scores and sending the brief to review."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from apps.core.services import event_emit
from apps.evaluation.models import Evaluation
from apps.generation.models import Draft, GenerationJob, JobState
from apps.generation.services import job_succeed
from workers.evaluation.types import DraftScore


@transaction.atomic
def evaluation_record(
    *, job_id: int, scores: Sequence[DraftScore], actor_label: str = ""
) -> GenerationJob | None:
    """Store one Evaluation per draft (replacing an earlier one) and finish the job.

    evaluating → succeeded; the brief goes to in_review. Returns None when the
    job is no longer evaluating (cancelled, or recorded by an earlier delivery).
    """
    job = GenerationJob.objects.select_for_update().filter(pk=job_id).first()
    if job is None or job.state != JobState.EVALUATING:
        return None
    drafts = {d.pk: d for d in Draft.objects.filter(job=job)}
    for score in scores:
        draft = drafts[score.draft_id]
        Evaluation.objects.update_or_create(
            draft=draft,
            defaults={
                "relevance": score.relevance,
                "length_fit": score.length_fit,
                "score": score.score,
                "metrics": score.metrics,
                "embedding_model": score.embedding_model,
            },
        )
        event_emit(
            workspace_id=job.workspace_id, type="draft.evaluated", subject=draft,
            payload={"brief_id": job.brief_id, "job_id": job.pk, "draft_id": draft.pk,
                     "variant": draft.variant, "score": score.score,
                     "relevance": score.relevance, "length_fit": score.length_fit},
        )
    return job_succeed(job=job, actor_label=actor_label)
