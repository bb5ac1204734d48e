"""Reads the evaluation side needs: what to score for a job."""

from __future__ import annotations

from apps.generation.models import Draft, GenerationJob, JobState
from workers.evaluation.types import ScoringInput


def job_awaits_evaluation(*, job_id: int) -> bool:
    return GenerationJob.objects.filter(pk=job_id, state=JobState.EVALUATING).exists()


def brief_text(*, title: str, topic: str, keywords: list[str]) -> str:
    """What a draft should be about, as one text to embed: title, topic, keywords."""
    parts = [title.strip(), topic.strip(), ", ".join(k.strip() for k in keywords if k.strip())]
    return "\n".join(part for part in parts if part)


def scoring_inputs_for_job(job_id: int) -> list[ScoringInput]:
    """One ScoringInput per draft of the job, by variant, in one query."""
    drafts = (
        Draft.objects.filter(job_id=job_id)
        .select_related("brief")
        .only("id", "variant", "text", "brief__title", "brief__topic", "brief__keywords",
              "brief__target_length")
        .order_by("variant")
    )
    return [
        ScoringInput(
            draft_id=draft.pk,
            brief_text=brief_text(title=draft.brief.title, topic=draft.brief.topic,
                                  keywords=draft.brief.keywords),
            draft_text=draft.text,
            target_words=draft.brief.target_length,
        )
        for draft in drafts
    ]
