"""The pipeline's table: for each event, what reacts inside its transaction and which task
runs next once it commits. Every step of a brief's way is one row here.

Reactions move the brief (apps/workflow/services.py). Tasks are named, never imported, so
the web tier never loads the compute side. Notifications register their own reactions
(apps/notifications/reactions.py); integrations fan events out to webhook subscriptions.
"""

from __future__ import annotations

from dataclasses import dataclass

from apps.core.pipeline import next_step_register
from apps.core.services import Reaction, reaction_register
from apps.publishing.models import PublicationState
from apps.workflow import services


@dataclass(frozen=True)
class Step:
    event: str
    react: Reaction | None = None  # in the event's transaction
    task: str = ""  # sent by name after commit
    keyed: bool = False  # the task also gets the event's id (its effect is keyed by it)


STEPS = (
    Step("job.queued", task="generation.run_job"),
    Step("job.running", react=services.on_job_claimed),
    Step("job.evaluating", react=services.on_drafts_recorded, task="evaluation.evaluate_job"),
    Step("job.failed", react=services.on_job_failed),
    Step("job.succeeded", react=services.on_evaluation_decided),
    Step("brief.in_review", task="reviews.review_arrived"),
    Step("draft.edited", task="evaluation.evaluate_revision"),
    Step("publication.scheduled", task="publishing.publish"),
    Step("publication.updated", task="publishing.update"),
    Step("publication.published", react=services.on_publication_settled),
    Step("publication.cancelled", react=services.on_publication_settled),
    *(Step(f"publication.{move}", react=services.on_publication_moved)
      for move in (*PublicationState.values, "updated")),
    Step("brief.failed", task="notifications.brief_failed", keyed=True),
    Step("publication.failed", task="notifications.publication_failed", keyed=True),
)


def pipeline_register() -> None:
    for step in STEPS:
        if step.react is not None:
            reaction_register(step.event, step.react)
        if step.task:
            next_step_register(step.event, step.task, keyed=step.keyed)
