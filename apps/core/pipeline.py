"""Which task runs next after which event: the pipeline's wiring in one table.

Tasks are enqueued by name so the web tier never imports the compute side
(torch, transformers). Every task is idempotent, so a relay that runs twice
(the sweeper after a crash) does no harm.
"""

from __future__ import annotations

from celery import current_app

NEXT_STEP: dict[str, str] = {
    "job.queued": "generation.run_job",
    "job.evaluating": "evaluation.evaluate_job",
    "publication.scheduled": "publishing.publish",
    "publication.updated": "publishing.update",
    "brief.in_review": "reviews.review_arrived",
    "brief.failed": "notifications.brief_failed",
    "publication.failed": "notifications.publication_failed",
}


def dispatch(event_type: str, subject_id: int, payload: dict | None = None) -> str | None:
    """Send the event's next step; an event that names a queue (a queued job whose model
    profile has its own worker pool) sends it there instead of the task's default queue."""
    task_name = NEXT_STEP.get(event_type)
    if task_name:
        queue = (payload or {}).get("queue")
        current_app.send_task(task_name, args=[subject_id], **({"queue": queue} if queue else {}))
    return task_name
